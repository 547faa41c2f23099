package stickerpack

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sticker draws a patterned disc (seed varies it) on a transparent square
// of side px, clear for margin px all round; opaque fills the background
// instead.
func sticker(side, margin int, opaque bool, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	k := int(seed * 7)
	c := float64(side) / 2
	r := c - float64(margin) - 2
	for y := range side {
		for x := range side {
			o := img.PixOffset(x, y)
			if math.Hypot(float64(x)-c, float64(y)-c) <= r {
				img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(128+x/8), uint8(100+(x+y+k)%60), uint8(y/3), 255
			} else if opaque {
				img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = 20, 200, 60, 255
			}
		}
	}
	return img
}

func pack(n, side, margin int, opaque bool) Pack {
	p := Pack{Name: "Test faces", Author: "Likeness tests"}
	for i := range n {
		p.Stickers = append(p.Stickers, Sticker{Image: sticker(side, margin, opaque, uint64(i)), Emoji: Emoji([]string{"angry", "shocked", "laughing", "crying"}[i%4])})
	}
	return p
}

func TestWrittenPacksPassTheirPlatformsRules(t *testing.T) {
	for _, name := range []string{"telegram", "whatsapp"} {
		t.Run(name, func(t *testing.T) {
			r, err := ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "faces")
			paths, err := Write(dir, pack(5, r.Side, 16, false), r, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(dir, r); err != nil {
				t.Fatalf("a pack Write made fails %s's rules:\n%v", r.Name, err)
			}
			want := 5 + 4 // stickers, icon, title, author, emojis
			if r.Archive != "" {
				want += 2 // contents.json, the archive
				if _, err := os.Stat(dir + r.Archive); err != nil {
					t.Errorf("no archive: %v", err)
				}
			}
			if len(paths) != want+1 { // README.txt
				t.Errorf("wrote %d files %v, want %d", len(paths), paths, want+1)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".faces.tmp-*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary folders left: %v", leftovers)
			}
			// Written again without overwrite: refused, the pack untouched.
			if _, err := Write(dir, pack(3, r.Side, 16, false), r, false); !errors.Is(err, os.ErrExist) {
				t.Errorf("second write without overwrite: %v, want ErrExist", err)
			}
			if err := Check(dir, r); err != nil {
				t.Errorf("the refused write changed the pack: %v", err)
			}
			if _, err := Write(dir, pack(3, r.Side, 16, false), r, true); err != nil {
				t.Fatalf("overwrite: %v", err)
			}
			if err := Check(dir, r); err != nil {
				t.Errorf("after overwrite: %v", err)
			}
			if got, _ := filepath.Glob(filepath.Join(dir, "*."+r.Format)); len(got) != 3 {
				t.Errorf("after overwrite with 3 stickers the folder holds %d", len(got))
			}
		})
	}
}

// TestCheckCatchesBrokenPacks writes packs under looser rules and checks
// them under the real ones: each break must be reported, naming the file.
func TestCheckCatchesBrokenPacks(t *testing.T) {
	wa, tg := Platforms["whatsapp"], Platforms["telegram"]
	loose := func(r Rules) Rules {
		r.Transparent, r.MinStickers, r.MaxStickers, r.MaxBytes, r.Square = false, 1, 1000, 1<<30, false
		return r
	}
	noisy := func(side int) Pack { // incompressible: every pixel random
		img := image.NewNRGBA(image.Rect(0, 0, side, side))
		rng := rand.New(rand.NewPCG(9, 9))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
		return Pack{Name: "n", Author: "a", Stickers: []Sticker{{Image: img}}}
	}
	for _, tc := range []struct {
		name  string
		write Rules
		check Rules
		pack  Pack
		want  string
	}{
		{"opaque stickers for WhatsApp", loose(wa), wa, pack(3, 512, 16, true), "not transparent"},
		{"shape inside the margin", loose(wa), wa, pack(3, 512, 4, false), "margin"},
		{"too few for WhatsApp", loose(wa), wa, pack(2, 512, 16, false), "2 stickers"},
		{"wrong size", loose(wa), wa, pack(3, 500, 16, false), "500x500"},
		{"too large for Telegram", func() Rules { r := loose(tg); r.Format = "png"; return r }(), tg, noisy(512), "bytes"},
		{"Telegram sticker not 512 on its longer side", loose(tg), tg, pack(1, 256, 0, false), "256x256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			if _, err := Write(dir, tc.pack, tc.write, false); err != nil {
				t.Fatal(err)
			}
			err := Check(dir, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error mentioning %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error does not name the pack's files: %v", err)
			}
		})
	}
	t.Run("missing icon", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "p")
		if _, err := Write(dir, pack(3, 512, 16, false), wa, false); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "tray.png"))
		if err := Check(dir, wa); err == nil || !strings.Contains(err.Error(), "tray.png") {
			t.Fatalf("Check = %v, want the missing tray.png", err)
		}
	})
}

func TestWriteRefusesWhatThePlatformWouldRefuse(t *testing.T) {
	wa := Platforms["whatsapp"]
	for _, tc := range []struct {
		name string
		pack Pack
		want string
	}{
		{"opaque", pack(3, 512, 16, true), "opaque"},
		{"too many", pack(31, 512, 16, false), "31"},
		{"no author", func() Pack { p := pack(3, 512, 16, false); p.Author = " "; return p }(), "author"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			_, err := Write(dir, tc.pack, wa, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error mentioning %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused pack left %s behind", dir)
			}
		})
	}
}

func TestEmojiAndByName(t *testing.T) {
	for in, want := range map[string]string{"angry": "😠", "Laughing": "😂", "crying": "😢", "shocked": "😮",
		"Santa Claus": "🎅", "sheep": "🐑", "royal": "👑", "flower": "🌸", "pirate": "🙂"} {
		if got := Emoji(in); got != want {
			t.Errorf("Emoji(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := ByName("WhatsApp"); err != nil {
		t.Error(err)
	}
	if _, err := ByName("signal"); err == nil || !strings.Contains(err.Error(), "telegram or whatsapp") {
		t.Errorf("ByName(signal) = %v", err)
	}
}
