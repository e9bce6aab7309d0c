package qstat

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"webservicemonitor/internal/demo"
)

// referenceParse reads the document with one encoding/xml Decoder and no
// fast path: the same document rules and token bound, none of the scanning.
// Parse must agree with it on every input: same jobs, or both an error
// (FuzzParseMatchesReference, TestParseMatchesReference).
func referenceParse(r io.Reader, loc *time.Location, maxToken int64) ([]Job, error) {
	in := newInput(r, maxToken, windowSize)
	var doc document
	doc.init(&in, loc)
	dec := xml.NewDecoder(&in)
	for {
		in.beginToken(dec.InputOffset())
		tok, err := dec.RawToken()
		if err == io.EOF {
			return doc.finish()
		}
		if err != nil {
			return nil, fmt.Errorf("reading qstat XML: %w", err)
		}
		if err := doc.token(tok); err != nil {
			return nil, err
		}
	}
}

// agreementCases are inputs chosen to hit each corner of encoding/xml's
// tokenizer, and the edges of the fast path. Both readings must give the
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
	{"declaration in double quotes", "<?xml version=\"1.0\"?><job_info/>", true},
	{"self-closing tag read by encoding/xml", doc(strings.Replace(runJob("n", "tools.a", "r"), "<slots>", "<x a='&amp;'/><slots>", 1)), true},
	{"self-closing field read by encoding/xml", doc(strings.Replace(runJob("n", "tools.a", "r"), "<queue_name>q</queue_name>", "<queue_name a='&lt;'/>", 1)), true},
	{"text split between the readers", doc(runJob(strings.Repeat("n", 5000)+"&amp;"+strings.Repeat("m", 5000), "tools.a", "r")), true},
	{"reference to a space before the root", " &#x20;\n<job_info/>", true},
	{"reference to a letter before the root", " &#x41;\n<job_info/>", false},
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

// tokenLimits are the bounds every agreement check runs under: none, and
// a few that cut through the tags and texts of the test documents.
var tokenLimits = []int64{math.MaxInt64, 8, 64}

// checkAgreement parses doc with the reference and with Parse's reader,
// the latter in several ways that move the window edges and read sizes
// around, under each token bound, and fails unless all give the same
// answer. It returns whether the reference accepted doc without a bound.
func checkAgreement(t *testing.T, doc []byte) bool {
	t.Helper()
	for _, limit := range tokenLimits {
		want, wantErr := referenceParse(bytes.NewReader(doc), qmasterZone, limit)
		ways := []struct {
			name string
			run  func() ([]Job, error)
		}{
			{"parse", func() ([]Job, error) { return parse(bytes.NewReader(doc), qmasterZone, limit) }},
			{"one byte at a time", func() ([]Job, error) { return parse(iotest.OneByteReader(bytes.NewReader(doc)), qmasterZone, limit) }},
			{"EOF with the data", func() ([]Job, error) { return parse(iotest.DataErrReader(bytes.NewReader(doc)), qmasterZone, limit) }},
			{"16-byte window", func() ([]Job, error) { return newParser(bytes.NewReader(doc), qmasterZone, limit, 16, 8).run() }},
			{"5-byte window, halves", func() ([]Job, error) {
				return newParser(iotest.HalfReader(bytes.NewReader(doc)), qmasterZone, limit, 5, 5).run()
			}},
		}
		for _, w := range ways {
			got, err := w.run()
			switch {
			case (err == nil) != (wantErr == nil):
				t.Fatalf("%s, token limit %d: error %v, reference error %v\ndocument: %q", w.name, limit, err, wantErr, clip(doc))
			case err != nil && got != nil:
				t.Fatalf("%s, token limit %d: %d jobs along with error %v", w.name, limit, len(got), err)
			case err == nil && (got == nil || len(got) != len(want)):
				t.Fatalf("%s, token limit %d: %d jobs (nil: %v), reference %d\ndocument: %q", w.name, limit, len(got), got == nil, len(want), clip(doc))
			}
			for i := range got {
				if msg := diffJob(got[i], want[i]); msg != "" {
					t.Fatalf("%s, token limit %d: job %d differs from the reference:\n%s", w.name, limit, i, msg)
				}
			}
		}
	}
	// A read error anywhere must fail the parse, never shorten the list.
	if _, err := Parse(&errAfter{data: doc[:len(doc)/2]}, qmasterZone); err == nil {
		t.Fatalf("read error after %d bytes: parse succeeded", len(doc)/2)
	}
	_, err := referenceParse(bytes.NewReader(doc), qmasterZone, math.MaxInt64)
	return err == nil
}

func TestParseMatchesReference(t *testing.T) {
	for _, tc := range agreementCases {
		t.Run(tc.name, func(t *testing.T) {
			if ok := checkAgreement(t, []byte(tc.doc)); ok != tc.ok {
				_, err := referenceParse(strings.NewReader(tc.doc), qmasterZone, math.MaxInt64)
				t.Errorf("both readings say ok=%v (reference error: %v); want ok=%v", ok, err, tc.ok)
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

// FuzzParseMatchesReference holds Parse to the reference: same jobs, or
// both an error, however the input is cut into reads and tokens are bounded.
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
