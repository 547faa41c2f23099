// Package tokenizer turns a prompt into the 77 CLIP token ids the text encoder
// expects.
//
// It exists so that Likeness needs no Python at run time, and it aims at exact
// parity with Hugging Face CLIPTokenizer(text, padding="max_length",
// max_length=77, truncation=True) for SD 1.5's clip-vit-large-patch14
// vocabulary: a single differing id changes the text embedding and so the
// picture. Every step therefore copies Python's behaviour rather than Go's
// nearest equivalent: html.unescape (applied twice), str.isspace whitespace,
// str.lower (İ becomes two runes, final sigma becomes ς), and the regex split
// with the `regex` module's IGNORECASE semantics.
//
// Known differences from the Python pipeline:
//   - ftfy.fix_text is treated as the identity. ftfy would repair mojibake,
//     curly quotes, ligatures and full-width forms and apply NFC, so such
//     input (and decomposed accents) may tokenize differently.
//   - Character classes come from Go's unicode tables (Unicode 15.0); a
//     Python built on another Unicode version may disagree on characters
//     whose properties changed between versions.
//   - html.unescape twice is OpenAI's basic_clean; Hugging Face's slow
//     tokenizer leaves entities to ftfy, which unescapes them only in text
//     with no '<'. Prompts with entities are rare; the golden cases avoid them.
//   - Invalid UTF-8, which a Python str cannot hold, is read as U+FFFD per bad
//     byte.
package tokenizer
