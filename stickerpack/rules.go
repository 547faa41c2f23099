// Package stickerpack writes sticker packs that messengers accept, and
// checks a written pack against its platform's published rules. The rules
// are data (Platforms), so that a platform's change is one line.
package stickerpack

import (
	"fmt"
	"sort"
	"strings"
)

// Rules are one platform's requirements for a static sticker pack.
type Rules struct {
	Name   string
	Source string // where the platform publishes them
	// Format is the sticker file format Likeness writes; Accepts lists all
	// the platform takes.
	Format  string
	Accepts []string
	// Side is the sticker's longer side in px; Square requires both sides.
	Side     int
	Square   bool
	MaxBytes int // per sticker
	// Transparent: the background must be transparent. Margin: px of clear
	// border the shape must keep from the edge.
	Transparent bool
	Margin      int
	MinStickers int
	MaxStickers int
	Tray        Icon   // the pack's icon; Side 0 = none
	Archive     string // extension of the importable archive, "" for none
}

// Icon is a pack icon's requirements.
type Icon struct {
	Side     int
	MaxBytes int
	File     string
}

// Platforms are the rules Likeness knows, by the name --pack-format takes.
var Platforms = map[string]Rules{
	// Telegram, "Stickers" in the Bot API documentation and the @Stickers
	// bot: static stickers are PNG or WebP, one side exactly 512 px and the
	// other at most 512, up to 512 KB; a pack holds up to 120; its optional
	// icon ("thumbnail") is 100x100, up to 32 KB.
	"telegram": {Name: "Telegram", Source: "Telegram Bot API, Stickers (static stickers)",
		Format: "webp", Accepts: []string{"webp", "png"}, Side: 512, MaxBytes: 512 << 10,
		MinStickers: 1, MaxStickers: 120, Tray: Icon{Side: 100, MaxBytes: 32 << 10, File: "icon.png"}},
	// WhatsApp, the sticker app guidelines (README of the WhatsApp/stickers
	// sample apps): 512x512 WebP, at most 100 KB, transparent background,
	// 16 px margin; a 96x96 PNG tray icon of at most 50 KB; 3 to 30
	// stickers; a name and a publisher (author).
	"whatsapp": {Name: "WhatsApp", Source: "WhatsApp sticker guidelines (WhatsApp/stickers README)",
		Format: "webp", Accepts: []string{"webp"}, Side: 512, Square: true, MaxBytes: 100 << 10,
		Transparent: true, Margin: 16, MinStickers: 3, MaxStickers: 30,
		Tray: Icon{Side: 96, MaxBytes: 50 << 10, File: "tray.png"}, Archive: ".wastickers"},
}

// ByName returns the rules for a --pack-format value.
func ByName(name string) (Rules, error) {
	if r, ok := Platforms[strings.ToLower(name)]; ok {
		return r, nil
	}
	var names []string
	for k := range Platforms {
		names = append(names, k)
	}
	sort.Strings(names)
	return Rules{}, fmt.Errorf("sticker pack format %q: want %s", name, strings.Join(names, " or "))
}

// emojiWords pick a sticker's emoji from its direction's ID or label (both
// platforms want at least one per sticker); the first matching row wins.
var emojiWords = []struct {
	words []string
	emoji string
}{
	{[]string{"laugh"}, "😂"},
	{[]string{"smil", "happy", "joy", "grin"}, "😄"},
	{[]string{"angry", "mad", "furious"}, "😠"},
	{[]string{"cry", "sad", "tear"}, "😢"},
	{[]string{"shock", "surpris", "astonish"}, "😮"},
	{[]string{"wink"}, "😉"},
	{[]string{"sheep", "lamb"}, "🐑"},
	{[]string{"flower"}, "🌸"},
	{[]string{"santa", "christmas"}, "🎅"},
	{[]string{"royal", "palace", "king", "queen", "golden"}, "👑"},
}

// Emoji is the emoji for a sticker made in direction (ID or label);
// "🙂" when none of the words match.
func Emoji(direction string) string {
	d := strings.ToLower(direction)
	for _, row := range emojiWords {
		for _, w := range row.words {
			if strings.Contains(d, w) {
				return row.emoji
			}
		}
	}
	return "🙂"
}
