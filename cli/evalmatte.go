package cli

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"likeness/app"
	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
	"likeness/engine/matte"
)

// matteRow is one picture of a matte set, scored.
type matteRow struct {
	File      string  `json:"file"`
	Group     string  `json:"group"`
	Source    string  `json:"source"` // what cut it out: model, or photo (GrabCut around the face)
	IoU       float64 `json:"iou"`
	CoarseIoU float64 `json:"coarse_iou"` // the model's own matte, before refinement
	Leak      float64 `json:"leak"`       // share of the cut-out's alpha on the true background
}

// matteGroup summarises one group of a matte set.
type matteGroup struct {
	Group     string  `json:"group"`
	N         int     `json:"n"`
	IoU       float64 `json:"iou_mean"`
	MinIoU    float64 `json:"iou_min"`
	CoarseIoU float64 `json:"coarse_iou_mean"`
	Leak      float64 `json:"leak_mean"`
}

// runEvalMatte scores the pack's cut-out on a matte set (likeness_train
// matte-set: index.tsv of file, alpha, group): each picture cut out as a
// sticker is (CutoutPicture, Cutout) and compared with its true alpha.
func runEvalMatte(ctx context.Context, env *env, f *editFlags, dir string) error {
	ss, err := f.openPack(ctx, env)
	if err != nil {
		return err
	}
	defer ss.close()
	eng := ss.eng
	if !eng.HasForeground() {
		return fmt.Errorf("pack %s has no foreground model to evaluate", eng.Pack.Name)
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return err
		}
	}
	index := filepath.Join(dir, "index.tsv")
	fh, err := os.Open(index)
	if err != nil {
		return err
	}
	defer fh.Close()
	var rows []matteRow
	sc := bufio.NewScanner(fh)
	line := 0
	for sc.Scan() {
		line++
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 || len(cols) == 0 || cols[0] == "" {
			continue
		}
		if len(cols) < 3 {
			return fmt.Errorf("%s:%d: want file, alpha, group", index, line)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		doc, err := app.OpenPhoto(filepath.Join(dir, cols[0]))
		if err != nil {
			return err
		}
		truth, err := readAlpha(filepath.Join(dir, cols[1]))
		if err != nil {
			return err
		}
		work := app.CutoutPicture(doc.Photo.Image)
		face, err := app.PhotoFace(ctx, work)
		if err != nil {
			return err
		}
		got, src, _, err := app.Cutout(ctx, eng, work, work, face, app.LooksLikePhoto(work))
		if err != nil {
			return fmt.Errorf("%s: %w", cols[0], err)
		}
		if got == nil {
			got = image.NewAlpha(work.Rect)
		}
		coarse, err := eng.Foreground(ctx, work)
		if err != nil {
			return err
		}
		t := matte.ResizeTo(truth, work.Rect.Dx(), work.Rect.Dy())
		if f.out != "" {
			name := strings.TrimSuffix(filepath.Base(cols[0]), filepath.Ext(cols[0])) + ".cutout.png"
			strip := compose.Sheet([]*image.NRGBA{work, compose.OnChecker(work, got)}, []string{cols[0], fmt.Sprintf("IoU %.3f", matte.IoU(t, got))}, 2, 256, color.White)
			if err := export.WritePNG(filepath.Join(f.out, name), strip, nil, export.WriteOptions{Overwrite: f.overwrite}); err != nil {
				return err
			}
		}
		rows = append(rows, matteRow{File: cols[0], Group: cols[2], Source: string(src), IoU: matte.IoU(t, got), CoarseIoU: matte.IoU(t, coarse), Leak: matte.Leak(t, got)})
		ss.pr.report(engine.Progress{Phase: "cut-out", Step: len(rows), Label: cols[0]})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", index, err)
	}
	ss.pr.done()
	groups := summarizeMattes(rows)
	if f.json {
		return printJSON(env.stdout, map[string]any{"pack": eng.Pack.Name, "groups": groups, "pictures": rows})
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tN\tIOU\tMIN IOU\tMODEL IOU (unrefined)\tLEAK")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n", g.Group, g.N, g.IoU, g.MinIoU, g.CoarseIoU, g.Leak)
	}
	return tw.Flush()
}

func summarizeMattes(rows []matteRow) []matteGroup {
	by := map[string]*matteGroup{}
	var names []string
	for _, r := range rows {
		for _, name := range []string{r.Group, "all"} {
			g, ok := by[name]
			if !ok {
				g = &matteGroup{Group: name, MinIoU: 1}
				by[name] = g
				names = append(names, name)
			}
			g.N++
			g.IoU += r.IoU
			g.CoarseIoU += r.CoarseIoU
			g.Leak += r.Leak
			g.MinIoU = min(g.MinIoU, r.IoU)
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return names[j] == "all" && names[i] != "all" })
	var out []matteGroup
	for _, n := range names {
		g := by[n]
		k := float64(g.N)
		g.IoU, g.CoarseIoU, g.Leak = g.IoU/k, g.CoarseIoU/k, g.Leak/k
		out = append(out, *g)
	}
	return out
}

// readAlpha reads a matte image (grey or with alpha: grey levels are the
// matte) as an *image.Alpha.
func readAlpha(path string) (*image.Alpha, error) {
	doc, err := app.OpenPhoto(path)
	if err != nil {
		return nil, err
	}
	img := doc.Photo.Image
	a := image.NewAlpha(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	for i := range a.Pix {
		a.Pix[i] = img.Pix[4*i] // grey: R = G = B
	}
	return a, nil
}
