package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// chart is a small server-rendered SVG with a text alternative.
type chart struct {
	ID, Title, Summary string
	SVG                template.HTML
}

type point struct {
	At time.Time
	V  float64
}

const chartW, chartH, chartPad = 360, 90, 4

// lineChart draws values over the hour ending at end. Only numbers built
// here go into the markup, so it is safe as template.HTML.
func lineChart(id, title string, pts []point, end time.Time) chart {
	c := chart{ID: id, Title: title}
	if len(pts) == 0 {
		c.Summary = "no samples yet: the console samples the streams while it runs"
		c.SVG = svg(id, title, `<text x="8" y="50" class="empty">no samples yet</text>`)
		return c
	}
	maxV := 1.0
	for _, p := range pts {
		maxV = max(maxV, p.V)
	}
	start := end.Add(-time.Hour)
	var b strings.Builder
	for i, p := range pts {
		x := chartPad + float64(chartW-2*chartPad)*p.At.Sub(start).Seconds()/3600
		y := chartH - chartPad - float64(chartH-2*chartPad)*p.V/maxV
		sep := " "
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s%.1f,%.1f", sep, x, y)
	}
	last := pts[len(pts)-1].V
	c.Summary = fmt.Sprintf("now %.0f, peak %.0f over %d samples", last, maxV, len(pts))
	body := fmt.Sprintf(`<polyline class="line" fill="none" points="%s"/><text x="%d" y="12" class="scale">max %.0f</text>`, b.String(), chartPad, maxV)
	c.SVG = svg(id, title, body)
	return c
}

// barChart draws one bar per minute, oldest first.
func barChart(id, title string, perMin []int64) chart {
	c := chart{ID: id, Title: title}
	var maxV, total int64 = 1, 0
	for _, v := range perMin {
		maxV = max(maxV, v)
		total += v
	}
	var b strings.Builder
	bw := float64(chartW-2*chartPad) / float64(len(perMin))
	for i, v := range perMin {
		h := float64(chartH-2*chartPad-14) * float64(v) / float64(maxV)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d min ago: %d</title></rect>`,
			chartPad+float64(i)*bw, chartH-chartPad-h, max(bw-1, 1), h, len(perMin)-1-i, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="12" class="scale">max %d/min</text>`, chartPad, maxV)
	c.Summary = fmt.Sprintf("%d posted in the last hour, at most %d in a minute", total, maxV)
	c.SVG = svg(id, title, b.String())
	return c
}

func svg(id, title, body string) template.HTML {
	return template.HTML(fmt.Sprintf(`<svg id="%s" class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t" preserveAspectRatio="none"><title id="%s-t">%s</title><rect class="frame" x="0.5" y="0.5" width="%d" height="%d"/>%s</svg>`,
		id, chartW, chartH, id, id, template.HTMLEscapeString(title), chartW-1, chartH-1, body))
}
