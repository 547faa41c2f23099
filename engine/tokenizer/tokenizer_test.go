package tokenizer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"likeness/internal/shared"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// goldenFile is the format of shared/golden/tokenizer/*.json (README §1) and
// of testdata/edge_cases.json.
type goldenFile struct {
	Vocab     string `json:"vocab"`
	MaxLength int    `json:"max_length"`
	BOSID     int64  `json:"bos_id"`
	EOSID     int64  `json:"eos_id"`
	PadID     int64  `json:"pad_id"`
	Cases     []struct {
		Name string  `json:"name"`
		Text string  `json:"text"`
		IDs  []int64 `json:"ids"`
	} `json:"cases"`
}

func goldenDir(tb testing.TB) string { return shared.Golden(tb) }

func repoRoot(tb testing.TB) string { return shared.Root(tb) }

// goldenFiles are the repository's tokenizer cases plus any in
// $LIKENESS_GOLDEN/tokenizer.
func goldenFiles(tb testing.TB) []string { return shared.GoldenFiles(tb, "tokenizer/*.json") }

func readGolden(tb testing.TB, path string) goldenFile {
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return g
}

func defaultTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	return tok
}

// tokenizerFor returns the tokenizer for a golden file's vocabulary name.
func tokenizerFor(t *testing.T, vocab string) *Tokenizer {
	t.Helper()
	if vocab != "clip-vit-large-patch14" {
		t.Fatalf("unknown vocabulary %q", vocab)
	}
	return defaultTokenizer(t)
}

func runGolden(t *testing.T, path string) {
	g := readGolden(t, path)
	tok := tokenizerFor(t, g.Vocab)
	if g.MaxLength != MaxLength || g.BOSID != tok.BOS() || g.EOSID != tok.EOS() || g.PadID != tok.Pad() {
		t.Fatalf("%s: header max_length=%d bos=%d eos=%d pad=%d, tokenizer has %d %d %d %d",
			path, g.MaxLength, g.BOSID, g.EOSID, g.PadID, MaxLength, tok.BOS(), tok.EOS(), tok.Pad())
	}
	if len(g.Cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			got := tok.Encode(c.Text)
			if !slices.Equal(got, c.IDs) {
				t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
			}
		})
	}
}

// TestGolden checks every case file in testdata/golden/tokenizer (and
// $LIKENESS_GOLDEN/tokenizer).
func TestGolden(t *testing.T) {
	files := goldenFiles(t)
	if len(files) == 0 {
		t.Fatalf("no tokenizer golden files in %s", filepath.Join(goldenDir(t), "tokenizer"))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) { runGolden(t, path) })
	}
}

// TestEdgeCases checks inputs where Go's standard library and Python differ,
// against testdata/edge_cases.json, written by testdata/gen_edge_cases.py from
// an independent Python reference.
func TestEdgeCases(t *testing.T) {
	runGolden(t, filepath.Join("testdata", "edge_cases.json"))
}

// decode turns ids back into the byte-level text, keeping </w> markers, so
// tests can state expectations as readable strings.
func decode(t *testing.T, tok *Tokenizer, ids []int64) string {
	t.Helper()
	byID := make(map[int64]string, len(tok.vocab))
	for s, id := range tok.vocab {
		byID[id] = s
	}
	fromSymbol := make(map[rune]byte, 256)
	for b, s := range byteSymbols {
		r, _ := utf8.DecodeRuneInString(s)
		fromSymbol[r] = byte(b)
	}
	var out []byte
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			t.Fatalf("id %d not in vocabulary", id)
		}
		if id == tok.BOS() || id == tok.EOS() {
			out = append(out, s...)
			continue
		}
		word, end := strings.CutSuffix(s, endOfWord)
		for _, r := range word {
			b, ok := fromSymbol[r]
			if !ok {
				t.Fatalf("token %q has a rune that is no byte symbol", s)
			}
			out = append(out, b)
		}
		if end {
			out = append(out, endOfWord...)
		}
	}
	return string(out)
}

// padded builds the expected Encode output from token strings.
func padded(t *testing.T, tok *Tokenizer, tokens ...string) []int64 {
	t.Helper()
	ids := []int64{tok.BOS()}
	for _, s := range tokens {
		id, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("token %q not in vocabulary", s)
		}
		ids = append(ids, id)
	}
	ids = append(ids, tok.EOS())
	for len(ids) < MaxLength {
		ids = append(ids, tok.Pad())
	}
	return ids
}

func TestEncodeTokens(t *testing.T) {
	tok := defaultTokenizer(t)
	tests := []struct {
		name, text string
		tokens     []string
	}{
		{"empty", "", nil},
		{"only whitespace", " \t\r\n\v\f ", nil},
		{"unicode whitespace only", "\u00a0\u3000\u2003\u0085\x1c", nil},
		{"html entity", "fish &amp; chips", []string{"fish</w>", "&</w>", "chips</w>"}},
		{"html entity unescaped twice", "fish &amp;amp; chips", []string{"fish</w>", "&</w>", "chips</w>"}},
		{"html numeric entity", "&#99;&#x61;t", []string{"cat</w>"}},
		{"html nbsp entity is whitespace", "red&nbsp;car", []string{"red</w>", "car</w>"}},
		{"unicode whitespace", "red\u00a0\u3000car\u2009now", []string{"red</w>", "car</w>", "now</w>"}},
		{"digits split", "x123", []string{"x</w>", "1</w>", "2</w>", "3</w>"}},
		{"digits in word", "b2b", []string{"b</w>", "2</w>", "b</w>"}},
		{"apostrophe s", "it's", []string{"it</w>", "'s</w>"}},
		{"apostrophe t", "don't", []string{"don</w>", "'t</w>"}},
		{"apostrophe re ve ll", "they're you've we'll", []string{"they</w>", "'re</w>", "you</w>", "'ve</w>", "we</w>", "'ll</w>"}},
		{"apostrophe m d", "i'm he'd", []string{"i</w>", "'m</w>", "he</w>", "'d</w>"}},
		{"apostrophe prefix only", "'sun", []string{"'s</w>", "un</w>"}},
		{"mixed case", "A CaT", []string{"a</w>", "cat</w>"}},
		{"upper-case contraction", "IT'S", []string{"it</w>", "'s</w>"}},
		{"punctuation run", "cat!!!", []string{"cat</w>", "!!!</w>"}},
		{"special tokens in text", "a<|endoftext|>b <|startoftext|>", []string{"a</w>", "<|endoftext|>", "b</w>", "<|startoftext|>"}},
		{"special token upper-case", "<|EndOfText|>", []string{"<|endoftext|>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := padded(t, tok, tt.tokens...)
			if got := tok.Encode(tt.text); !slices.Equal(got, want) {
				t.Errorf("Encode(%q)\n got %v (%q)\nwant %v (%q)", tt.text, got, decode(t, tok, got), want, decode(t, tok, want))
			}
		})
	}
}

// TestEncodeWords checks how text splits into words where the BPE pieces are
// not worth spelling out: decode(Encode(text)) must be the expected words.
func TestEncodeWords(t *testing.T) {
	tok := defaultTokenizer(t)
	tests := []struct{ name, text, want string }{
		{"emoji", "a happy 😀", "a</w>happy</w>😀</w>"},
		{"emoji run is one word", "😀😀!", "😀😀!</w>"},
		{"cjk is one word", "東京 tower", "東京</w>tower</w>"},
		{"hangul", "한국어", "한국어</w>"},
		{"accented letters", "Café NAÏVE", "café</w>naïve</w>"},
		{"dotted capital i", "İ", "i</w>\u0307</w>"},
		{"final sigma", "ΟΔΟΣ", "οδος</w>"},
		{"inner sigma", "ΣΑΣΑ", "σασα</w>"},
		{"long s contraction", "it'ſ", "it</w>'ſ</w>"},
		{"invalid utf-8", "a\xffb", "a</w>\uFFFD</w>b</w>"},
		{"numeric entity dropped", "a&#1;b", "ab</w>"},
		{"special token after punctuation is not special", "!<|endoftext|>", "!<|</w>endoftext</w>|></w>"},
		{"zero width space is no whitespace", "a\u200bb", "a</w>\u200b</w>b</w>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := tok.Encode(tt.text)
			end := slices.Index(ids[1:], tok.EOS()) + 1
			if got := decode(t, tok, ids[1:end]); got != tt.want {
				t.Errorf("Encode(%q) decodes to %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestEncodeTruncation(t *testing.T) {
	tok := defaultTokenizer(t)
	cat, _ := tok.TokenID("cat</w>")
	for _, n := range []int{74, 75, 76, 200} {
		ids := tok.Encode(strings.Repeat("cat ", n))
		if len(ids) != MaxLength {
			t.Fatalf("%d cats: %d ids", n, len(ids))
		}
		kept := min(n, MaxLength-2)
		for i := 1; i <= kept; i++ {
			if ids[i] != cat {
				t.Fatalf("%d cats: ids[%d] = %d, want cat %d", n, i, ids[i], cat)
			}
		}
		for i := kept + 1; i < MaxLength; i++ {
			if ids[i] != tok.EOS() {
				t.Fatalf("%d cats: ids[%d] = %d, want EOS/pad %d", n, i, ids[i], tok.EOS())
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	tok := defaultTokenizer(t)
	if tok.BOS() != 49406 || tok.EOS() != 49407 || tok.Pad() != 49407 {
		t.Errorf("BOS/EOS/Pad = %d/%d/%d, want 49406/49407/49407", tok.BOS(), tok.EOS(), tok.Pad())
	}
	if id, ok := tok.TokenID("angry</w>"); !ok || id != 9054 {
		t.Errorf(`TokenID("angry</w>") = %d, %v; want 9054, true`, id, ok)
	}
	if _, ok := tok.TokenID("no such token"); ok {
		t.Error("TokenID of an unknown token reports ok")
	}
	// Every byte symbol, bare and word-final, must be in the vocabulary, or
	// some inputs could not be encoded.
	for b, s := range byteSymbols {
		for _, sym := range []string{s, s + endOfWord} {
			if _, ok := tok.TokenID(sym); !ok {
				t.Errorf("byte %#x: symbol %q not in vocabulary", b, sym)
			}
		}
	}
	if again, _ := Default(); again != tok {
		t.Error("Default returned a different tokenizer on the second call")
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := defaultTokenizer(t)
	texts := []string{"a photo of a cat", "portrait, oil painting", "東京 at night 😀", "don't stop"}
	want := make([][]int64, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(texts)
				if got := tok.Encode(texts[k]); !slices.Equal(got, want[k]) {
					t.Errorf("concurrent Encode(%q) = %v, want %v", texts[k], got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodVocab := write("vocab.json", `{"a": 0, "b": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}`)
	goodMerges := write("merges.txt", "#version: 0.2\na b</w>\n")
	missing := filepath.Join(dir, "missing.json")

	tests := []struct {
		name          string
		vocab, merges string
		is            error
		msg           []string
	}{
		{"missing vocab", missing, goodMerges, fs.ErrNotExist, []string{missing}},
		{"missing merges", goodVocab, missing, fs.ErrNotExist, []string{missing}},
		{"bad json", write("bad.json", `{"a": 0,`), goodMerges, ErrInvalidVocab, []string{"bad.json"}},
		{"not an object", write("list.json", `["a"]`), goodMerges, ErrInvalidVocab, []string{"list.json"}},
		{"no bos", write("nobos.json", `{"a": 0, "<|endoftext|>": 1}`), goodMerges, ErrInvalidVocab, []string{"nobos.json", "<|startoftext|>"}},
		{"no eos", write("noeos.json", `{"a": 0, "<|startoftext|>": 1}`), goodMerges, ErrInvalidVocab, []string{"noeos.json", "<|endoftext|>"}},
		{"negative id", write("neg.json", `{"a": -1, "<|startoftext|>": 1, "<|endoftext|>": 2}`), goodMerges, ErrInvalidVocab, []string{"neg.json", "negative"}},
		{"three fields", goodVocab, write("three.txt", "#version: 0.2\na b\nx y z\n"), ErrInvalidMerges, []string{"three.txt", "line 3"}},
		{"one field", goodVocab, write("one.txt", "a b\nab\n"), ErrInvalidMerges, []string{"one.txt", "line 2"}},
		{"blank line inside", goodVocab, write("blank.txt", "#version: 0.2\na b\n\nc d\n"), ErrInvalidMerges, []string{"blank.txt", "line 3"}},
		{"no merges", goodVocab, write("empty.txt", "#version: 0.2\n"), ErrInvalidMerges, []string{"empty.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Load(tt.vocab, tt.merges)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", tok)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}

	t.Run("good files with CRLF", func(t *testing.T) {
		tok, err := Load(goodVocab, write("crlf.txt", "#version: 0.2\r\na b</w>\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tok.Encode("ab"), []int64{3, 2, 4}; !slices.Equal(got[:3], want) {
			t.Errorf("Encode(ab) = %v, want prefix %v", got[:3], want)
		}
	})
}

func TestLoadFSMissing(t *testing.T) {
	_, err := LoadFS(os.DirFS(t.TempDir()), "vocab.json", "merges.txt")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "vocab.json") {
		t.Errorf("LoadFS on an empty directory: %v", err)
	}
}

// fuzzSeeds are the golden and table inputs, plus a few hostile ones.
func fuzzSeeds(tb testing.TB) []string {
	seeds := []string{"", "a\xffb\xc0", "&#99999999999999999999;", "&amp;&amp;amp;", "<|startoftext|><|endoftext|>",
		strings.Repeat("😀", 100), "ΑΣ'Σ İ ſ", "\x00\x1c\u2028"}
	paths := append(goldenFiles(tb), filepath.Join("testdata", "edge_cases.json"))
	for _, path := range paths {
		for _, c := range readGolden(tb, path).Cases {
			seeds = append(seeds, c.Text)
		}
	}
	return seeds
}

func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	tok := defaultTokenizer(f)
	var vocabSize int64
	for _, id := range tok.vocab {
		vocabSize = max(vocabSize, id+1)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text)
		if len(ids) != MaxLength {
			t.Fatalf("Encode(%q): %d ids", text, len(ids))
		}
		if ids[0] != tok.BOS() {
			t.Fatalf("Encode(%q): ids[0] = %d, want BOS", text, ids[0])
		}
		if !slices.Contains(ids[1:], tok.EOS()) || ids[MaxLength-1] != tok.EOS() {
			t.Fatalf("Encode(%q) = %v: no EOS at the end", text, ids)
		}
		for i, id := range ids {
			if id < 0 || id >= vocabSize {
				t.Fatalf("Encode(%q): ids[%d] = %d outside [0, %d)", text, i, id, vocabSize)
			}
		}
		if again := tok.Encode(text); !slices.Equal(again, ids) {
			t.Fatalf("Encode(%q) not deterministic: %v then %v", text, ids, again)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok := defaultTokenizer(b)
	text := "portrait of an astronaut riding a horse on mars, digital art, trending on artstation, " +
		"highly detailed, sharp focus, 8k, by greg rutkowski"
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkEncodeUncached(b *testing.B) {
	tok := defaultTokenizer(b)
	text := "portrait of an astronaut riding a horse on mars, digital art, trending on artstation"
	b.ReportAllocs()
	for b.Loop() {
		tok.mu.Lock()
		clear(tok.cache)
		tok.mu.Unlock()
		tok.Encode(text)
	}
}
