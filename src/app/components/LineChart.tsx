import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
}

interface Props {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** [x, y1, y2, ...], uPlot's aligned columns; null marks a gap. */
  data: (number | null)[][];
  height?: number;
  testId?: string;
}

/** A uPlot chart that keeps one instance and only swaps its data, so updates stay cheap. */
export function LineChart({ title, xLabel, yLabel, series, data, height = 220, testId }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}|${s.color}`).join(',');

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      title,
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, { label: yLabel }],
      series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: s.width ?? 1.5, dash: s.dash, spanGaps: true }))],
      legend: { show: series.length <= 12 },
    };
    const p = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = p;
    const resize = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      p.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, title, height]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return <div className="chart" ref={host} data-testid={testId} data-points={data[0]?.length ?? 0} style={{ minHeight: height + 40 }} />;
}
