package eval

import (
	"image"
	"slices"
	"testing"

	"likeness/models"
)

func TestJudgesShipped(t *testing.T) {
	infos, err := Judges()
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[string]JudgeInfo{}
	for _, ji := range infos {
		tasks[ji.Task] = ji
		if ji.Size <= 0 || len(ji.Classes) < 2 || (ji.Input != "face" && ji.Input != "square") {
			t.Errorf("judge %s: %+v", ji.Task, ji)
		}
	}
	if e := tasks["expressions"]; !slices.Equal(e.Classes, []string{"neutral", "angry", "shocked", "laughing", "crying"}) || e.Input != "face" {
		t.Errorf("expressions judge %+v", e)
	}
	if c := tasks["costumes"]; !slices.Equal(c.Classes, []string{"everyday", "flower", "sheep", "santa", "royal"}) || c.Input != "square" {
		t.Errorf("costumes judge %+v", c)
	}
	// A pack whose directions no judge knows gets none.
	m := models.NewManifest(models.KindMCDM)
	m.Directions = []models.Direction{{ID: "angry"}, {ID: "pirate"}}
	if _, err := JudgeFor(m); err != ErrNoJudge {
		t.Errorf("JudgeFor(angry, pirate): %v, want ErrNoJudge", err)
	}
}

func TestJudgeView(t *testing.T) {
	face := &Judge{JudgeInfo: JudgeInfo{Input: "face", Margin: 0.25}}
	// A 40x20 face: a 60 px square (the longer side widened by a quarter each side) round its centre.
	if v := face.View(image.Rect(100, 100, 140, 120), image.Rect(0, 0, 500, 500)); v != image.Rect(90, 80, 150, 140) {
		t.Errorf("face view %v", v)
	}
	sq := &Judge{JudgeInfo: JudgeInfo{Input: "square"}}
	if v := sq.View(image.Rect(100, 100, 140, 120), image.Rect(5, 5, 305, 305)); v != image.Rect(5, 5, 305, 305) {
		t.Errorf("square view %v", v)
	}
}
