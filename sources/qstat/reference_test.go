package qstat

// The encoding/xml implementation that Parse used before the hand-written
// scanner in fastparse.go. It is kept, unchanged but for its name, as the
// reference the fast parser must agree with on every input: same jobs, or
// both an error (FuzzParseMatchesReference, TestParseMatchesReference).

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"webservicemonitor/internal/demo"
)

// referenceParse is the old Parse.
func referenceParse(r io.Reader, loc *time.Location) ([]Job, error) {
	if loc == nil {
		loc = time.Local
	}
	p := refParser{
		dec:      xml.NewDecoder(bufio.NewReaderSize(r, 64<<10)),
		loc:      loc,
		jobs:     make([]Job, 0, 64),
		stack:    make([]xml.Name, 0, 8),
		interned: make(map[string]string),
	}
	return p.run()
}

// refParser is the state machine Parse used before fastparse.go. It tracks the open elements
// itself because RawToken (used to skip namespace bookkeeping) does not
// check that end tags match.
type refParser struct {
	dec *xml.Decoder
	loc *time.Location

	stack    []xml.Name // open elements, root first
	sawToken bool       // anything other than whitespace was read
	rootDone bool       // </job_info> of the root has been read

	jobs    []Job
	job     Job    // the job_list being read
	jobAt   int    // len(stack) when inside that job_list, 0 outside one
	jobSeq  int    // 1-based position of that job_list in the document
	jobLine int    // line of its start tag, for error messages
	have    uint16 // bit per field seen with non-empty text
	cur     field  // field whose text is being collected
	text    []byte // that text, reused across fields

	// interned shares the few distinct state and queue strings among
	// thousands of jobs instead of allocating one per job.
	interned map[string]string
}

func (p *refParser) run() ([]Job, error) {
	for {
		tok, err := p.dec.RawToken()
		if err == io.EOF {
			return p.finish()
		}
		if err != nil {
			return nil, fmt.Errorf("reading qstat XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.sawToken = true
			err = p.start(t)
		case xml.EndElement:
			p.sawToken = true
			err = p.end(t)
		case xml.CharData:
			err = p.charData(t)
		default: // declaration, comments, directives carry nothing we need
			p.sawToken = true
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *refParser) finish() ([]Job, error) {
	switch {
	case !p.sawToken:
		return nil, errors.New("qstat printed nothing")
	case len(p.stack) > 0:
		line, _ := p.dec.InputPos()
		return nil, fmt.Errorf("qstat XML ends at line %d inside <%s>: output is truncated", line, p.stack[len(p.stack)-1].Local)
	case !p.rootDone:
		return nil, errors.New("qstat printed no <job_info> element")
	}
	return p.jobs, nil
}

func (p *refParser) start(t xml.StartElement) error {
	if len(p.stack) == 0 {
		if p.rootDone {
			return p.errorf("second root element <%s> after </job_info>", t.Name.Local)
		}
		if t.Name.Local != "job_info" || t.Name.Space != "" {
			return p.errorf("root element is <%s>, want <job_info> (was qstat run with -xml and without -j?)", qualified(t.Name))
		}
	}
	p.stack = append(p.stack, t.Name)
	switch {
	case p.jobAt > 0:
		if len(p.stack) == p.jobAt+1 {
			p.cur = fieldOf(t.Name.Local)
			p.text = p.text[:0]
		}
	case t.Name.Local == "job_list":
		p.beginJob(t)
	}
	return nil
}

func (p *refParser) end(t xml.EndElement) error {
	n := len(p.stack)
	if n == 0 {
		return p.errorf("unexpected </%s>", qualified(t.Name))
	}
	if open := p.stack[n-1]; open != t.Name {
		return p.errorf("<%s> closed by </%s>", qualified(open), qualified(t.Name))
	}
	p.stack = p.stack[:n-1]
	switch {
	case p.jobAt > 0 && n == p.jobAt+1:
		err := p.setField()
		p.cur = fieldNone
		return err
	case p.jobAt > 0 && n == p.jobAt:
		p.jobAt = 0
		return p.endJob()
	case n == 1:
		p.rootDone = true
	}
	return nil
}

func (p *refParser) charData(t xml.CharData) error {
	if len(p.stack) == 0 {
		if len(bytes.TrimSpace(t)) == 0 {
			return nil
		}
		p.sawToken = true
		if p.rootDone {
			return p.errorf("text after </job_info>: %q", clip(t))
		}
		return fmt.Errorf("qstat printed text that is not XML: %q", clip(t))
	}
	if p.cur != fieldNone && len(p.stack) == p.jobAt+1 {
		p.text = append(p.text, t...)
	}
	return nil
}

func (p *refParser) beginJob(t xml.StartElement) {
	p.jobAt = len(p.stack)
	p.jobSeq++
	p.jobLine, _ = p.dec.InputPos()
	p.have = 0
	p.cur = fieldNone
	p.job = Job{Running: p.runningSection(t)}
}

// runningSection says whether the job_list being opened sits in the running
// part of the document (queue_info) or the pending part (the nested
// job_info). Only if it sits in neither does the state attribute decide.
func (p *refParser) runningSection(t xml.StartElement) bool {
	for i := len(p.stack) - 2; i >= 1; i-- {
		switch p.stack[i].Local {
		case "queue_info":
			return true
		case "job_info":
			return false
		}
	}
	for _, a := range t.Attr {
		if a.Name.Local == "state" {
			return a.Value == "running"
		}
	}
	return false
}

func (p *refParser) setField() error {
	v := bytes.TrimSpace(p.text)
	if len(v) == 0 || p.cur == fieldNone {
		return nil
	}
	switch p.cur {
	case fieldNumber:
		n, ok := parseCount(v)
		if !ok {
			return p.jobErrorf("JB_job_number %q is not a whole number", clip(v))
		}
		p.job.Number = n
	case fieldName:
		p.job.Name = unescapeName(v)
	case fieldOwner:
		p.job.Owner = string(v)
	case fieldState:
		p.job.State = p.intern(v)
	case fieldQueue:
		p.job.Queue = p.intern(v)
	case fieldTasks:
		p.job.Tasks = string(v)
	case fieldSlots:
		n, ok := parseCount(v)
		if !ok {
			return p.jobErrorf("slots %q is not a whole number", clip(v))
		}
		p.job.Slots = n
	case fieldStarted, fieldSubmitted:
		at, ok := parseLocalTime(v, p.loc)
		if !ok {
			name := "JAT_start_time"
			if p.cur == fieldSubmitted {
				name = "JB_submission_time"
			}
			return p.jobErrorf("%s %q is not a time like %s", name, clip(v), timeLayout)
		}
		if p.cur == fieldStarted {
			p.job.Started = at
		} else {
			p.job.Submitted = at
		}
	}
	p.have |= 1 << p.cur
	return nil
}

func (p *refParser) endJob() error {
	for _, req := range [...]struct {
		f    field
		elem string
	}{
		{fieldNumber, "JB_job_number"},
		{fieldName, "JB_name"},
		{fieldOwner, "JB_owner"},
		{fieldState, "state"},
	} {
		if p.have&(1<<req.f) == 0 {
			return p.jobErrorf("missing or empty <%s>", req.elem)
		}
	}
	p.jobs = append(p.jobs, p.job)
	return nil
}

func (p *refParser) intern(b []byte) string {
	if s, ok := p.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	p.interned[s] = s
	return s
}

func (p *refParser) errorf(format string, args ...any) error {
	line, _ := p.dec.InputPos()
	return fmt.Errorf("qstat XML line %d: "+format, append([]any{line}, args...)...)
}

// jobErrorf names the job_list by position and start line, and by number
// and name when those were already read, so the capture can be found.
func (p *refParser) jobErrorf(format string, args ...any) error {
	var who strings.Builder
	fmt.Fprintf(&who, "job_list #%d at line %d", p.jobSeq, p.jobLine)
	if p.have&(1<<fieldNumber) != 0 {
		fmt.Fprintf(&who, " (job %d", p.job.Number)
		if p.job.Name != "" {
			fmt.Fprintf(&who, " %q", p.job.Name)
		}
		who.WriteString(")")
	}
	return fmt.Errorf("qstat XML %s: "+format, append([]any{who.String()}, args...)...)
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// agreementCases are inputs chosen to hit each corner of encoding/xml's
// tokenizer that the fast parser re-implements. Both parsers must give the
// same answer on each, and that answer must be the one written here, so a
// shared mistake does not pass unseen.
var agreementCases = []struct {
	name string
	doc  string
	ok   bool
}{
	{"plain job", doc(runJob("n", "tools.a", "r")), true},
	{"predefined entities", doc(runJob("a&lt;b&gt;&amp;&quot;&apos;", "tools.a", "r")), true},
	{"numeric references", doc(runJob("&#65;&#x42;&#x6a;&#000000000000000000067;", "tools.a", "r")), true},
	{"numeric reference with X", doc(runJob("&#X43;", "tools.a", "r")), false},
	{"reference to NUL", doc(runJob("a&#0;", "tools.a", "r")), false},
	{"reference to a surrogate", doc(runJob("a&#xD800;", "tools.a", "r")), true},
	{"reference past Unicode", doc(runJob("a&#x110000;", "tools.a", "r")), false},
	{"empty numeric reference", doc(runJob("a&#;", "tools.a", "r")), false},
	{"empty hex reference", doc(runJob("a&#x;", "tools.a", "r")), false},
	{"undeclared entity", doc(runJob("a&nbsp;", "tools.a", "r")), false},
	{"entity without semicolon", doc(runJob("a&lt b", "tools.a", "r")), false},
	{"bare ampersand", doc(runJob("a & b", "tools.a", "r")), false},
	{"ampersand semicolon", doc(runJob("a&;", "tools.a", "r")), false},
	{"ampersand at the end", "<job_info>&", false},
	{"CDATA name", doc(runJob("<![CDATA[a<b&c]]>", "tools.a", "r")), true},
	{"CDATA with brackets", doc(runJob("<![CDATA[x]]]>y", "tools.a", "r")), true},
	{"empty CDATA", doc(runJob("n<![CDATA[]]>", "tools.a", "r")), true},
	{"unterminated CDATA", doc(runJob("<![CDATA[x]>", "tools.a", "r")), false},
	{"not quite CDATA", doc(runJob("<![CDAT[x]]>", "tools.a", "r")), false},
	{"CDATA before the root", "<![CDATA[ ]]><job_info/>", true},
	{"CDATA text before the root", "<![CDATA[x]]><job_info/>", false},
	{"]]> in text", doc(runJob("a]]>b", "tools.a", "r")), false},
	{"] and ]] in text", doc(runJob("a]b]]c]", "tools.a", "r")), true},
	{"]]> in an attribute", "<job_info a=']]>'/>", true},
	{"comment", "<!-- c --><job_info><!-- in --></job_info><!-- after -->", true},
	{"empty comment", "<!----><job_info/>", true},
	{"double dash in comment", "<!-- a -- b --><job_info/>", false},
	{"comment ending --->", "<!-- a ---><job_info/>", false},
	{"unterminated comment", "<job_info/><!-- a --", false},
	{"<!- alone", "<!- x><job_info/>", false},
	{"doctype", "<!DOCTYPE job_info [<!ENTITY x \"y\">]><job_info/>", true},
	{"doctype entity is not defined", "<!DOCTYPE job_info [<!ENTITY x \"y\">]><job_info>&x;</job_info>", false},
	{"directive with quoted >", "<!DOCTYPE a \"x>y\" 'p>q'><job_info/>", true},
	{"directive with nested <>", "<!x<>><job_info/>", true},
	{"directive with comment", "<!x <!-- > --> ><job_info/>", true},
	{"unterminated directive", "<job_info/><!x<>", false},
	{"declaration 1.1", "<?xml version=\"1.1\"?><job_info/>", false},
	{"declaration latin1", "<?xml version='1.0' encoding='ISO-8859-1'?><job_info/>", false},
	{"declaration Utf-8", "<?xml version='1.0' encoding='Utf-8'?><job_info/>", true},
	{"bare declaration", "<?xml?><job_info/>", true},
	{"declaration version without quotes", "<?xml version=1.1 ?><job_info/>", true},
	{"stylesheet instruction", "<?xml-stylesheet href='a'?><job_info/>", true},
	{"instruction without target", "<? xml?><job_info/>", false},
	{"instruction with colons", "<?a:b:c x?><job_info/>", true},
	{"unterminated declaration", "<?xml version='1.0'", false},
	{"declaration after the root", "<job_info/><?xml version='2.0'?>", false},
	{"CRLF lines", strings.ReplaceAll(doc(runJob("a\r\nb\rc", "tools.a", "r")), "\n", "\r\n"), true},
	{"CR around a name", doc(runJob("\rname\r", "tools.a", "r")), true},
	{"prefixed field", doc(strings.Replace(runJob("n", "tools.a", "r"), "JB_name>", "x:JB_name>", 2)), true},
	{"prefix lost in end tag", doc(strings.Replace(runJob("n", "tools.a", "r"), "<JB_name>", "<x:JB_name>", 1)), false},
	{"two colons", "<job_info><a:b:c/></job_info>", false},
	{"leading colon", doc(strings.Replace(runJob("n", "tools.a", "r"), "JB_owner>", ":JB_owner>", 2)), false},
	{"trailing colon is no prefix", "<job_info><a:/></job_info>", true},
	{"prefixed root", "<x:job_info></x:job_info>", false},
	{"prefixed job_list", "<job_info><queue_info><x:job_list><JB_job_number>1</JB_job_number><JB_name>n</JB_name><JB_owner>o</JB_owner><state>r</state></x:job_list></queue_info></job_info>", true},
	{"self-closing job_list", doc("<job_list/>"), false},
	{"self-closing fields", doc(strings.Replace(runJob("n", "tools.a", "r"), "<queue_name>q</queue_name>", "<queue_name/><tasks/>", 1)), true},
	{"state attribute decides outside sections", "<job_info><job_list state='running'><JB_job_number>1</JB_job_number><JB_name>n</JB_name><JB_owner>o</JB_owner><state>r</state></job_list></job_info>", true},
	{"prefixed state attribute", "<job_info><job_list a='1'x:state=\"running\" state='pending'><JB_job_number>1</JB_job_number><JB_name>n</JB_name><JB_owner>o</JB_owner><state>r</state></job_list></job_info>", true},
	{"state attribute with reference", "<job_info><job_list state='run&#110;ing'><JB_job_number>1</JB_job_number><JB_name>n</JB_name><JB_owner>o</JB_owner><state>r</state></job_list></job_info>", true},
	{"unquoted attribute", "<job_info a=b/>", false},
	{"attribute without value", "<job_info a/>", false},
	{"< in attribute", "<job_info a='<'/>", false},
	{"spaces in tags", "<job_info\n\tx = \"1\"\r\n></job_info\t\n>", true},
	{"junk in end tag", "<job_info></job_info x>", false},
	{"space after <", "< job_info/>", false},
	{"name starting with a digit", "<job_info><1a/></job_info>", false},
	{"non-ASCII element", "<job_info><café x='é'>é</café></job_info>", true},
	{"non-ASCII name start", "<job_info><éa/></job_info>", true},
	{"name with a symbol", "<job_info><a×b/></job_info>", false},
	{"invalid UTF-8 name", "<job_info><a\xff/></job_info>", false},
	{"invalid UTF-8 text", doc(runJob("a\xffb", "tools.a", "r")), false},
	{"truncated rune at the end", "<job_info></job_info>\xc3", false},
	{"U+FFFE", doc(runJob("a\uFFFEb", "tools.a", "r")), false},
	{"control character", doc(runJob("a\x01b", "tools.a", "r")), false},
	{"DEL", doc(runJob("a\x7fb", "tools.a", "r")), true},
	{"non-ASCII job name", doc(runJob("café-☕-𝄞", "tools.a", "r")), true},
	{"byte order mark", "\uFEFF<job_info/>", false},
	{"no-break space before the root", "\u00a0\n<job_info/>\u2028", true},
	{"white space only", " \n\t ", false},
	{"comment only", "<!-- x -->", false},
	{"end tag first", "</job_info>", false},
	{"second root", "<job_info/><job_info/>", false},
	{"text after the root", "<job_info/>x", false},
	{"nested job_list", doc(strings.Replace(runJob("n", "tools.a", "r"), "<slots>", "<job_list><JB_name>m</JB_name></job_list><slots>", 1)), true},
	{"element inside a field", doc(runJob("ab<x>zz</x>cd", "tools.a", "r")), true},
	{"field twice", doc(strings.Replace(runJob("n", "tools.a", "r"), "<slots>", "<JB_name>m</JB_name><slots>", 1)), true},
	{"SGE escapes", doc(runJob("a%lt;b%gt;%amp;%quot;", "tools.a", "r")), true},
	{"fractional seconds", doc(strings.Replace(runJob("n", "tools.a", "r"), "10:55:22", "10:55:22.5", 1)), true},
	{"unicode space around a state", doc(runJob("n", "tools.a", "\u00a0r\u0085")), true},
	{"deep unknown nesting", "<job_info>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</job_info>", true},
	{"truncated in a tag", "<job_info><queue_info", false},
	{"truncated in an attribute", "<job_info a='x", false},
	{"truncated after <", "<job_info><", false},
	{"long text", "<job_info>" + strings.Repeat("x ", 5000) + "</job_info>", true},
	{"long text before the root", strings.Repeat(" ", 10000) + "<job_info/>", true},
	{"long CDATA", doc(runJob("<![CDATA["+strings.Repeat("é]", 3000)+"]]>", "tools.a", "r")), true},
	{"long comment", "<!--" + strings.Repeat("-x", 5000) + "--><job_info/>", true},
	{"long attribute", "<job_info a='" + strings.Repeat("&amp;", 2000) + "'/>", true},
	{"long name", "<job_info><" + strings.Repeat("n", 9000) + "/></job_info>", true},
}

// doc wraps jobs in the running section of a job_info document.
func doc(jobs string) string {
	return "<?xml version='1.0'?>\n<job_info>\n  <queue_info>\n" + jobs + "  </queue_info>\n  <job_info>\n  </job_info>\n</job_info>\n"
}

func runJob(name, owner, state string) string {
	return "    <job_list state=\"running\">\n      <JB_job_number>7</JB_job_number>\n      <JB_name>" + name +
		"</JB_name>\n      <JB_owner>" + owner + "</JB_owner>\n      <state>" + state +
		"</state>\n      <JAT_start_time>2017-01-23T10:55:22</JAT_start_time>\n      <queue_name>q</queue_name>\n      <slots>1</slots>\n    </job_list>\n"
}

// errAfter hands out its data, then fails with a read error instead of EOF.
type errAfter struct{ data []byte }

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

// checkAgreement parses doc with the reference and with the fast parser,
// the latter in several ways that move the window edges and read sizes
// around, and fails unless all give the same answer. It returns whether
// the reference accepted doc.
func checkAgreement(t *testing.T, doc []byte) bool {
	t.Helper()
	want, wantErr := referenceParse(bytes.NewReader(doc), qmasterZone)
	ways := []struct {
		name string
		run  func() ([]Job, error)
	}{
		{"Parse", func() ([]Job, error) { return Parse(bytes.NewReader(doc), qmasterZone) }},
		{"one byte at a time", func() ([]Job, error) { return Parse(iotest.OneByteReader(bytes.NewReader(doc)), qmasterZone) }},
		{"EOF with the data", func() ([]Job, error) { return Parse(iotest.DataErrReader(bytes.NewReader(doc)), qmasterZone) }},
		{"16-byte window", func() ([]Job, error) { return newParser(bytes.NewReader(doc), qmasterZone, 16, 8).run() }},
		{"5-byte window, halves", func() ([]Job, error) {
			return newParser(iotest.HalfReader(bytes.NewReader(doc)), qmasterZone, 5, 5).run()
		}},
	}
	for _, w := range ways {
		got, err := w.run()
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("%s: error %v, reference error %v\ndocument: %q", w.name, err, wantErr, clip(doc))
		case err != nil && got != nil:
			t.Fatalf("%s: %d jobs along with error %v", w.name, len(got), err)
		case err == nil && (got == nil || len(got) != len(want)):
			t.Fatalf("%s: %d jobs (nil: %v), reference %d\ndocument: %q", w.name, len(got), got == nil, len(want), clip(doc))
		}
		for i := range got {
			if msg := diffJob(got[i], want[i]); msg != "" {
				t.Fatalf("%s: job %d differs from the reference:\n%s", w.name, i, msg)
			}
		}
	}
	// A read error anywhere must fail the parse, never shorten the list.
	if _, err := Parse(&errAfter{data: doc[:len(doc)/2]}, qmasterZone); err == nil {
		t.Fatalf("read error after %d bytes: parse succeeded", len(doc)/2)
	}
	return wantErr == nil
}

func TestParseMatchesReference(t *testing.T) {
	for _, tc := range agreementCases {
		t.Run(tc.name, func(t *testing.T) {
			if ok := checkAgreement(t, []byte(tc.doc)); ok != tc.ok {
				_, err := referenceParse(strings.NewReader(tc.doc), qmasterZone)
				t.Errorf("both parsers say ok=%v (reference error: %v); want ok=%v", ok, err, tc.ok)
			}
		})
	}
}

func TestParseMatchesReferenceOnFixtures(t *testing.T) {
	for name, b := range testdataFiles(t) {
		t.Run(name, func(t *testing.T) { checkAgreement(t, b) })
	}
}

// testdataFiles is every fixture: this package's testdata/ and the real
// captures, by path below each.
func testdataFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	for _, dir := range []string{"testdata", realDir} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			files[filepath.Join(filepath.Base(dir), rel)] = b
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if len(files) == 0 {
		tb.Fatal("no fixtures")
	}
	return files
}

func TestParseMatchesReferenceOnGrids(t *testing.T) {
	var grid bytes.Buffer
	if err := writeGrid(&grid, 2000); err != nil {
		t.Fatal(err)
	}
	if !checkAgreement(t, grid.Bytes()) {
		t.Fatal("reference refused the generated grid")
	}
	var demoGrid bytes.Buffer
	if err := demo.WriteQstatXML(&demoGrid, scaleGrid(300)); err != nil {
		t.Fatal(err)
	}
	if !checkAgreement(t, demoGrid.Bytes()) {
		t.Fatal("reference refused the demo grid")
	}
}

// FuzzParseMatchesReference holds the fast parser to the reference: same
// jobs, or both an error, however the input is cut into reads.
func FuzzParseMatchesReference(f *testing.F) {
	for _, b := range testdataFiles(f) {
		f.Add(b)
	}
	for _, tc := range agreementCases {
		if len(tc.doc) < 4096 {
			f.Add([]byte(tc.doc))
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkAgreement(t, doc)
	})
}
