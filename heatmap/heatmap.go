// Package heatmap draws a matrix of a dcor-stream result (job.MatrixResult)
// as a heatmap, PNG or SVG: what "dcor-stream matrix -heatmap" writes, for
// programs that embed the engine.
package heatmap

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/dcor-stream/dcor-stream/job"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// heatGrid presents a matrix to plotter.HeatMap: column c at x = c, row r
// at y = rows−1−r, so that the first row is at the top as in a table.
type heatGrid [][]float64

func (g heatGrid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g heatGrid) Z(c, r int) float64 { return g[len(g)-1-r][c] }
func (g heatGrid) X(c int) float64    { return float64(c) }
func (g heatGrid) Y(r int) float64    { return float64(r) }

// heatStatTitle names each statistic in the heatmap's title.
var heatStatTitle = map[string]string{
	"bcdcor":       "bias-corrected dCor² (bcdcor)",
	"dcor":         "dCor (V-statistic, biased upward in high dimension)",
	"pdcor":        "partial dCor given %s (pdcor)",
	"semi_partial": "semi-partial dCor given %s, as the seed paper's code",
	"dcor_sq":      "dCor² (V-statistic)",
	"cka_linear":   "debiased linear CKA",
	"bcdcor_se":    "jackknife standard error of bcdcor",
}

// Write draws the matrix stat of r (a Stat key: "bcdcor", "dcor",
// "dcor_sq", "pdcor", "semi_partial", "cka_linear", "bcdcor_se") as a
// heatmap to file, PNG or SVG
// by its extension: the row spaces top to bottom, the column spaces left
// to right, each cell coloured on a fixed scale from min(0, smallest
// value) to max(1, largest value) so that heatmaps of different runs
// compare, with its value printed when the matrix is at most 24×24, a
// colour bar, and a title naming the statistic, n and the estimator.
func Write(file string, r *job.MatrixResult, stat string) error {
	var grid [][]float64
	for _, s := range r.Stats() {
		if s.Key == stat {
			grid = s.Grid
		}
	}
	if grid == nil {
		return fmt.Errorf("heatmap: no %s matrix in this result", stat)
	}
	nr, nc := len(grid), len(grid[0])
	lo, hi := 0.0, 1.0
	for _, row := range grid {
		for _, v := range row {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}

	var cmap palette.ColorMap = viridis()
	if lo < 0 && stat != "bcdcor" && stat != "dcor" && stat != "cka_linear" && stat != "cka_rbf" {
		// A partial statistic can be far below 0: a diverging map centred
		// at 0 shows the sign.
		m := math.Max(-lo, hi)
		lo, hi = -m, m
		cmap = moreland.SmoothBlueRed()
	}
	cmap.SetMin(lo)
	cmap.SetMax(hi)
	pal := cmap.Palette(256)

	// Sizes: cells of 0.5 inch (smaller beyond 16 spaces), widened up to
	// 1.2 inch so that the column labels fit horizontally; longer labels
	// are turned upright.
	tickFont := font.Font{Typeface: plot.DefaultFont.Typeface, Variant: plot.DefaultFont.Variant, Size: vg.Points(10)}
	face := font.DefaultCache.Lookup(tickFont, tickFont.Size)
	longest := func(names []string) vg.Length {
		var w vg.Length
		for _, n := range thin(face, names) {
			w = max(w, face.Width(n))
		}
		return w
	}
	cellH := vg.Length(0.5) * vg.Inch
	if m := max(nr, nc); m > 16 {
		// At most 16 inches of cells a side (1,920 pixels): a 500×500
		// matrix once asked for a 90-inch canvas and 1 GB.
		cellH = vg.Length(math.Max(math.Min(0.18, 16.0/float64(m)), 8.0/float64(m))) * vg.Inch
		cellH = min(cellH, 16*vg.Inch/vg.Length(m))
	}
	cellW := max(cellH, min(longest(r.Cols)+0.2*vg.Inch, 1.2*vg.Inch))
	upright := longest(r.Cols)+0.1*vg.Inch > cellW
	if vg.Length(nc)*cellW > 12*vg.Inch {
		cellW, upright = cellH, true
	}
	colLabelH := face.Extents().Height
	if upright {
		colLabelH = longest(r.Cols)
	}
	const barW = 1.3 * vg.Inch
	w := longest(r.Rows) + cellW*vg.Length(nc) + barW + 1.2*vg.Inch
	h := colLabelH + cellH*vg.Length(nr) + 1.8*vg.Inch
	w, h = max(w, 5*vg.Inch), max(h, 4*vg.Inch)

	p := plot.New()
	name := heatStatTitle[stat]
	if strings.Contains(name, "%s") {
		name = fmt.Sprintf(name, r.Given)
	}
	title := fmt.Sprintf("%s, n = %d", name, r.N)
	if r.Minibatch > 0 {
		title += "\n" + r.Estimator()
		if r.Shuffled {
			title += fmt.Sprintf("\nrows shuffled (seed %d)", r.ShuffleSeed)
		} else if c := r.OrderCheck; c != nil && c.Warn {
			title += "\nWARNING: the rows look sorted; use -shuffle"
		}
	}
	if r.Block > 0 {
		title += fmt.Sprintf("\nblock estimate (%d blocks of %d rows): see bcdcor_se", r.Batches, r.Block)
	}
	if r.NormalizeRows {
		title += "\nrows normalised to unit norm"
	}
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(12)
	// Axis titles (the specs given, which may be long lists of files) are
	// cut to the length of their axis; the names are in the JSON.
	p.X.Label.Text = fit(face, r.ColTitle, cellW*vg.Length(nc))
	p.Y.Label.Text = fit(face, r.RowTitle, cellH*vg.Length(nr))
	colNames := thin(face, r.Cols)
	if upright {
		// Trailing spaces keep the ends of upright labels off the cells.
		for i, n := range colNames {
			if n != "" {
				colNames[i] = n + "  "
			}
		}
	}
	p.NominalX(colNames...)
	rev := make([]string, nr)
	for i, n := range thin(face, r.Rows) {
		rev[nr-1-i] = n
	}
	p.NominalY(rev...)
	p.X.Tick.Label.Font.Size = tickFont.Size
	p.Y.Tick.Label.Font.Size = tickFont.Size
	if upright {
		p.X.Tick.Label.Rotation = math.Pi / 2
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.Title.Padding = vg.Points(8)
	p.X.Padding, p.Y.Padding = 0, 0

	hm := plotter.NewHeatMap(heatGrid(grid), pal)
	hm.Min, hm.Max = lo, hi
	p.Add(hm)
	if nr <= 24 && nc <= 24 {
		p.Add(cellLabels(grid, cmap))
	}
	p.X.Min, p.X.Max = -0.5, float64(nc)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(nr)-0.5

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	bar.Y.Label.Text = stat
	bar.Y.Tick.Label.Font.Size = tickFont.Size

	var c vg.CanvasWriterTo
	switch strings.ToLower(filepath.Ext(file)) {
	case ".svg":
		c = vgsvg.New(w, h)
	default:
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(120), vgimg.UseBackgroundColor(color.White))}
	}
	dc := draw.New(c)
	mainC := draw.Crop(dc, 0, -barW, 0, 0)
	p.Draw(mainC)
	// Align the colour bar with the heatmap's data area.
	da := p.DataCanvas(mainC)
	if da.Max.X <= da.Min.X || da.Max.Y <= da.Min.Y {
		return fmt.Errorf("%s: the labels leave no room for the cells (name the spaces more briefly)", file)
	}
	barC := draw.Crop(dc, w-barW+0.25*vg.Inch, -0.25*vg.Inch, 0, 0)
	bda := bar.DataCanvas(barC)
	barC.Min.Y += da.Min.Y - bda.Min.Y
	barC.Max.Y += da.Max.Y - bda.Max.Y
	bar.Draw(barC)

	// A temporary file renamed over file: a full disk leaves no
	// truncated image behind.
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	err = f.Chmod(0o644)
	if err == nil {
		_, err = c.WriteTo(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// viridis returns matplotlib's viridis colour map (Smith & van der Walt
// 2015), from 9 of its colours interpolated in CIELAB: perceptually
// uniform, readable in grey and by colour-blind readers, and what most
// layer-similarity heatmaps use.
func viridis() palette.ColorMap {
	stops := []color.Color{
		color.NRGBA{0x44, 0x01, 0x54, 0xff}, color.NRGBA{0x47, 0x2d, 0x7b, 0xff},
		color.NRGBA{0x3b, 0x52, 0x8b, 0xff}, color.NRGBA{0x2c, 0x72, 0x8e, 0xff},
		color.NRGBA{0x21, 0x91, 0x8c, 0xff}, color.NRGBA{0x28, 0xae, 0x80, 0xff},
		color.NRGBA{0x5e, 0xc9, 0x62, 0xff}, color.NRGBA{0xad, 0xdc, 0x30, 0xff},
		color.NRGBA{0xfd, 0xe7, 0x25, 0xff},
	}
	m, err := moreland.NewLuminance(stops)
	if err != nil {
		panic(err) // the stops are fixed and increase in luminance
	}
	return m
}

// cellLabels prints each cell's value with 2 decimals, white on dark cells
// and black on light ones.
func cellLabels(grid [][]float64, cmap palette.ColorMap) *plotter.Labels {
	var xys plotter.XYs
	var labels []string
	var styles []text.Style
	nr := len(grid)
	base := text.Style{
		Font:    font.From(plot.DefaultFont, vg.Points(8)),
		XAlign:  draw.XCenter,
		YAlign:  draw.YCenter,
		Handler: plot.DefaultTextHandler,
	}
	for i, row := range grid {
		for j, v := range row {
			xys = append(xys, plotter.XY{X: float64(j), Y: float64(nr - 1 - i)})
			labels = append(labels, fmt.Sprintf("%.2f", v))
			st := base
			st.Color = color.Black
			if c, err := cmap.At(v); err == nil && luminance(c) < 0.5 {
				st.Color = color.White
			}
			styles = append(styles, st)
		}
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		panic(err) // the XYs are finite and as many as the labels
	}
	l.TextStyle = styles
	return l
}

// luminance returns the relative luminance of c in [0, 1] (Rec. 709
// weights on the gamma-encoded channels, enough to pick a text colour).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// fit returns s, or its start and "…", whatever fits in w in face.
func fit(face font.Face, s string, w vg.Length) string {
	if face.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && face.Width(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	if len(r) == 0 {
		return ""
	}
	return string(r) + "…"
}

// tail returns s, or "…" and its end, whatever fits in w in face: the end
// of a path names the file.
func tail(face font.Face, s string, w vg.Length) string {
	if face.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && face.Width("…"+string(r)) > w {
		r = r[1:]
	}
	return "…" + string(r)
}

// thin returns the names to label the ticks with, each cut to 3 inches:
// all of up to 48, else every k-th (the others blank) so that about 48
// remain readable.
func thin(face font.Face, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = tail(face, n, 3*vg.Inch)
	}
	if k := (len(names) + 47) / 48; k > 1 {
		for i := range out {
			if i%k != 0 {
				out[i] = ""
			}
		}
	}
	return out
}
