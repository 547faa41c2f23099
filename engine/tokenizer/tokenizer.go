package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"likeness/assets"
)

// MaxLength is the number of ids Encode returns: CLIP's context length.
const MaxLength = 77

const (
	bosToken  = "<|startoftext|>"
	eosToken  = "<|endoftext|>"
	endOfWord = "</w>"

	// maxCached bounds the per-word cache; prompts reuse a small vocabulary,
	// so clearing it when full costs little and keeps memory bounded.
	maxCached = 1 << 16
)

var (
	// ErrInvalidVocab reports a vocab.json that is not a usable token→id map.
	ErrInvalidVocab = errors.New("invalid vocabulary")
	// ErrInvalidMerges reports a merges.txt line that is not "left right".
	ErrInvalidMerges = errors.New("invalid merges")
)

// Tokenizer is a CLIP byte-level BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	vocab    map[string]int64
	ranks    map[pair]int
	bos, eos int64

	mu    sync.RWMutex
	cache map[string][]int64 // lower-cased word → its BPE ids
}

type pair struct{ left, right string }

// byteSymbols is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves, the other 68 bytes map to U+0100 upwards, in byte order.
var byteSymbols = func() [256]string {
	var m [256]string
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		if '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF {
			m[b] = string(rune(b))
		} else {
			m[b] = string(next)
			next++
		}
	}
	return m
}()

// Load reads a Hugging Face vocab.json and merges.txt from disk.
func Load(vocabPath, mergesPath string) (*Tokenizer, error) {
	vocab, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	merges, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("read merges: %w", err)
	}
	return parse(vocab, merges, vocabPath, mergesPath)
}

// LoadFS is Load reading from fsys.
func LoadFS(fsys fs.FS, vocabPath, mergesPath string) (*Tokenizer, error) {
	vocab, err := fs.ReadFile(fsys, vocabPath)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	merges, err := fs.ReadFile(fsys, mergesPath)
	if err != nil {
		return nil, fmt.Errorf("read merges: %w", err)
	}
	return parse(vocab, merges, vocabPath, mergesPath)
}

var loadDefault = sync.OnceValues(func() (*Tokenizer, error) {
	return LoadFS(assets.CLIP, "clip/vocab.json", "clip/merges.txt")
})

// Default returns the tokenizer for the CLIP vocabulary embedded in the
// binary (clip-vit-large-patch14, as SD 1.5 uses). It is loaded once and
// shared.
func Default() (*Tokenizer, error) { return loadDefault() }

func parse(vocabData, mergesData []byte, vocabPath, mergesPath string) (*Tokenizer, error) {
	var vocab map[string]int64
	if err := json.Unmarshal(vocabData, &vocab); err != nil {
		return nil, fmt.Errorf("vocabulary %s: %w: %w", vocabPath, ErrInvalidVocab, err)
	}
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("vocabulary %s: token %q has negative id %d: %w", vocabPath, tok, id, ErrInvalidVocab)
		}
	}
	t := &Tokenizer{vocab: vocab, cache: make(map[string][]int64)}
	var ok bool
	if t.bos, ok = vocab[bosToken]; !ok {
		return nil, fmt.Errorf("vocabulary %s: no %s token: %w", vocabPath, bosToken, ErrInvalidVocab)
	}
	if t.eos, ok = vocab[eosToken]; !ok {
		return nil, fmt.Errorf("vocabulary %s: no %s token: %w", vocabPath, eosToken, ErrInvalidVocab)
	}
	ranks, err := parseMerges(mergesData, mergesPath)
	if err != nil {
		return nil, err
	}
	t.ranks = ranks
	return t, nil
}

// parseMerges reads one "left right" merge per line, in rank order, after an
// optional "#version" header. CRLF endings and a final newline are accepted.
// A repeated pair keeps its last rank, as Python's dict(zip(merges, range))
// does.
func parseMerges(data []byte, path string) (map[pair]int, error) {
	ranks := make(map[pair]int, 50000)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lineNo, rank := 0, 0
	var blank int // a blank line is only allowed at the very end
	for sc.Scan() {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if lineNo == 1 && strings.HasPrefix(line, "#version") {
			continue
		}
		if line == "" {
			if blank == 0 {
				blank = lineNo
			}
			continue
		}
		if blank != 0 {
			return nil, fmt.Errorf("merges %s: line %d: blank line: %w", path, blank, ErrInvalidMerges)
		}
		left, right, ok := strings.Cut(line, " ")
		if !ok || left == "" || right == "" || strings.ContainsAny(right, " \t") || strings.Contains(left, "\t") {
			return nil, fmt.Errorf("merges %s: line %d: malformed merge %q, want \"left right\": %w", path, lineNo, line, ErrInvalidMerges)
		}
		ranks[pair{left, right}] = rank
		rank++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("merges %s: line %d: %w: %w", path, lineNo+1, ErrInvalidMerges, err)
	}
	if len(ranks) == 0 {
		return nil, fmt.Errorf("merges %s: no merges: %w", path, ErrInvalidMerges)
	}
	return ranks, nil
}

// BOS is the id of <|startoftext|>.
func (t *Tokenizer) BOS() int64 { return t.bos }

// EOS is the id of <|endoftext|>.
func (t *Tokenizer) EOS() int64 { return t.eos }

// Pad is the padding id; CLIPTokenizer pads with <|endoftext|>.
func (t *Tokenizer) Pad() int64 { return t.eos }

// TokenID looks token up in the vocabulary, e.g. "angry</w>".
func (t *Tokenizer) TokenID(token string) (int64, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// Encode returns exactly MaxLength ids: BOS, the first MaxLength-2 token ids
// of text, EOS, then padding. A truncated prompt still ends with EOS.
func (t *Tokenizer) Encode(text string) []int64 {
	ids := make([]int64, 1, MaxLength)
	ids[0] = t.bos
	const limit = MaxLength - 1 // BOS plus the tokens that fit before EOS
	split(normalize(text), func(piece string) bool {
		switch piece {
		case bosToken:
			ids = append(ids, t.bos)
		case eosToken:
			ids = append(ids, t.eos)
		default:
			ids = append(ids, t.word(piece)...)
		}
		return len(ids) < limit
	})
	if len(ids) > limit {
		ids = ids[:limit]
	}
	for len(ids) < MaxLength {
		ids = append(ids, t.eos) // the EOS, then padding with the same id
	}
	return ids
}

// word returns the ids of one pre-tokenized piece, from the cache if possible.
// The returned slice is shared and must not be modified.
func (t *Tokenizer) word(piece string) []int64 {
	t.mu.RLock()
	ids, ok := t.cache[piece]
	t.mu.RUnlock()
	if ok {
		return ids
	}
	ids = t.bpe(piece)
	t.mu.Lock()
	if len(t.cache) >= maxCached {
		clear(t.cache)
	}
	t.cache[piece] = ids
	t.mu.Unlock()
	return ids
}

// bpe maps piece's UTF-8 bytes to byte symbols, marks the last one with
// </w> and repeatedly merges every occurrence, left to right, of the
// lowest-ranked adjacent pair, as CLIP's bpe() does. Pair ranks are kept per
// position and looked up again only next to a merge, so a long word costs a
// cheap scan per merge rather than a map lookup per pair. A token missing from
// the vocabulary (possible only with a vocabulary that does not match its
// merges) becomes <|endoftext|>, CLIP's unk token.
func (t *Tokenizer) bpe(piece string) []int64 {
	n := len(piece)
	word := make([]string, n)
	for i := range n {
		word[i] = byteSymbols[piece[i]]
	}
	word[n-1] += endOfWord
	// ranks[i] is the rank of (word[i], word[i+1]); the last entry is noRank.
	ranks := make([]int, n)
	for i := range n - 1 {
		ranks[i] = t.rank(word[i], word[i+1])
	}
	ranks[n-1] = noRank
	nextWord, nextRanks := make([]string, 0, n), make([]int, n)
	from := make([]int, 0, n) // old index of each unmerged symbol, -1 if merged
	for len(word) > 1 {
		best := slices.Min(ranks)
		if best == noRank {
			break
		}
		// Ranks are unique per pair, so ranks[i] == best means this is the pair.
		nextWord, from = nextWord[:0], from[:0]
		for i := 0; i < len(word); {
			if ranks[i] == best {
				nextWord = append(nextWord, word[i]+word[i+1])
				from = append(from, -1)
				i += 2
			} else {
				nextWord = append(nextWord, word[i])
				from = append(from, i)
				i++
			}
		}
		m := len(nextWord)
		nextRanks = nextRanks[:m]
		for j := range m - 1 {
			if from[j] >= 0 && from[j+1] >= 0 {
				nextRanks[j] = ranks[from[j]] // neighbours untouched: same pair
			} else {
				nextRanks[j] = t.rank(nextWord[j], nextWord[j+1])
			}
		}
		nextRanks[m-1] = noRank
		word, nextWord = nextWord, word
		ranks, nextRanks = nextRanks, ranks
	}
	ids := make([]int64, len(word))
	for i, tok := range word {
		id, ok := t.vocab[tok]
		if !ok {
			id = t.eos
		}
		ids[i] = id
	}
	return ids
}

const noRank = math.MaxInt

func (t *Tokenizer) rank(left, right string) int {
	if r, ok := t.ranks[pair{left, right}]; ok {
		return r
	}
	return noRank
}
