import { type ReactNode, useId } from 'react';

/**
 * Plain SVG charts. Each is a figure with a caption; the drawing is one image to assistive
 * technology (role="img", named by its <title>, summed up by its <desc>), and the figures it is
 * drawn from are also a real table, one click away.
 */

export interface Datum {
  key: string;
  label: string;
  value: number;
  color: string;
}

const numberText = (value: number) => value.toLocaleString();

/** A round maximum for an axis: 1, 2, 5, 10, 20, 50... at least `value`. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((each) => each * power >= value) ?? 10;
  return step * power;
}

function Figure({
  caption,
  table,
  children,
  className,
}: {
  caption: string;
  table: { head: string[]; rows: { key: string; cells: (string | number)[] }[] };
  children: ReactNode;
  className?: string;
}) {
  return (
    <figure className={`chart${className === undefined ? '' : ` ${className}`}`}>
      <figcaption>{caption}</figcaption>
      {children}
      <details className="chart-data">
        <summary>
          Show the numbers<span className="visually-hidden"> of {caption.toLowerCase()}</span>
        </summary>
        <table>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              {table.head.map((cell) => (
                <th key={cell} scope="col">
                  {cell}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row) => (
              <tr key={row.key}>
                {row.cells.map((cell, index) => {
                  const column = table.head[index] ?? '';
                  return index === 0 ? (
                    <th key={column} scope="row">
                      {cell}
                    </th>
                  ) : (
                    <td key={column}>{typeof cell === 'number' ? numberText(cell) : cell}</td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function Svg({
  title,
  desc,
  width,
  height,
  children,
}: {
  title: string;
  desc: string;
  width: number;
  height: number;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-labelledby={`${id}-title ${id}-desc`}
      preserveAspectRatio="xMinYMin meet"
    >
      <title id={`${id}-title`}>{title}</title>
      <desc id={`${id}-desc`}>{desc}</desc>
      {children}
    </svg>
  );
}

const BAR_ROW = 34;
const LABEL_WIDTH = 120;
const CHART_WIDTH = 460;

/** Horizontal bars, one per category, each labelled with its count and share. */
export function BarChart({ caption, category, data }: { caption: string; category: string; data: Datum[] }) {
  const total = data.reduce((sum, each) => sum + each.value, 0);
  const max = Math.max(1, ...data.map((each) => each.value));
  const room = CHART_WIDTH - LABEL_WIDTH - 90;
  const share = (value: number) => (total === 0 ? 0 : Math.round((value / total) * 100));
  const desc = data.map((each) => `${each.label}: ${numberText(each.value)} (${share(each.value)}%)`).join(', ');
  return (
    <Figure
      caption={caption}
      table={{
        head: [category, 'Tasks', 'Share'],
        rows: data.map((each) => ({ key: each.key, cells: [each.label, each.value, `${share(each.value)}%`] })),
      }}
    >
      <Svg title={caption} desc={desc} width={CHART_WIDTH} height={data.length * BAR_ROW + 4}>
        {data.map((each, index) => {
          const y = index * BAR_ROW + 4;
          const width = (each.value / max) * room;
          return (
            <g key={each.key}>
              <text x={LABEL_WIDTH - 10} y={y + 17} textAnchor="end" className="axis-label">
                {each.label}
              </text>
              <rect x={LABEL_WIDTH} y={y + 2} width={room} height={22} rx={4} className="track" />
              <rect
                x={LABEL_WIDTH}
                y={y + 2}
                width={Math.max(width, each.value > 0 ? 3 : 0)}
                height={22}
                rx={4}
                fill={each.color}
              />
              <text x={LABEL_WIDTH + width + 8} y={y + 18} className="value-label">
                {numberText(each.value)}
                <tspan className="share"> · {share(each.value)}%</tspan>
              </text>
            </g>
          );
        })}
      </Svg>
    </Figure>
  );
}

export interface StackedDatum {
  key: string;
  label: string;
  done: number;
  total: number;
}

/** One bar per person: done and not done, stacked, longest first. */
export function StackedBarChart({
  caption,
  data,
  doneColor,
  openColor,
}: {
  caption: string;
  data: StackedDatum[];
  doneColor: string;
  openColor: string;
}) {
  const max = Math.max(1, ...data.map((each) => each.total));
  const width = 1000;
  const labelWidth = 170;
  const room = width - labelWidth - 150;
  const desc = data.map((each) => `${each.label}: ${each.total} tasks, ${each.done} done`).join(', ');
  return (
    <Figure
      caption={caption}
      className="wide"
      table={{
        head: ['Person', 'Tasks', 'Done', 'Not done'],
        rows: data.map((each) => ({
          key: each.key,
          cells: [each.label, each.total, each.done, each.total - each.done],
        })),
      }}
    >
      <p className="legend" aria-hidden="true">
        <span>
          <i style={{ background: doneColor }} /> Done
        </span>
        <span>
          <i style={{ background: openColor }} /> Not done
        </span>
      </p>
      {data.length === 0 ? (
        <p className="muted">No tasks yet.</p>
      ) : (
        <Svg title={caption} desc={desc} width={width} height={data.length * BAR_ROW + 4}>
          {data.map((each, index) => {
            const y = index * BAR_ROW + 4;
            const doneWidth = (each.done / max) * room;
            const openWidth = ((each.total - each.done) / max) * room;
            return (
              <g key={each.key}>
                <text x={labelWidth - 10} y={y + 17} textAnchor="end" className="axis-label">
                  {each.label.length > 24 ? `${each.label.slice(0, 23)}…` : each.label}
                </text>
                <rect x={labelWidth} y={y + 2} width={doneWidth} height={22} fill={doneColor} />
                <rect x={labelWidth + doneWidth} y={y + 2} width={openWidth} height={22} fill={openColor} />
                <text x={labelWidth + doneWidth + openWidth + 8} y={y + 18} className="value-label">
                  {numberText(each.done)}
                  <tspan className="share"> of {numberText(each.total)} done</tspan>
                </text>
              </g>
            );
          })}
        </Svg>
      )}
    </Figure>
  );
}

/** Vertical bars over time, with a scale and a date every week. */
export function ColumnChart({
  caption,
  data,
  color,
  dayLabel,
  longDayLabel,
}: {
  caption: string;
  data: { key: string; value: number }[];
  color: string;
  dayLabel: (key: string) => string;
  longDayLabel: (key: string) => string;
}) {
  const width = 1000;
  const height = 230;
  const left = 36;
  const bottom = 26;
  const top = 10;
  const plot = height - bottom - top;
  const max = niceMax(Math.max(1, ...data.map((each) => each.value)));
  const step = (width - left - 4) / Math.max(1, data.length);
  const total = data.reduce((sum, each) => sum + each.value, 0);
  const busiest = data.reduce<{ key: string; value: number } | undefined>(
    (best, each) => (best === undefined || each.value > best.value ? each : best),
    undefined,
  );
  const desc =
    data.length === 0
      ? 'No data.'
      : `${numberText(total)} tasks over ${data.length} days, from ${longDayLabel(data[0]?.key ?? '')} to ${longDayLabel(
          data[data.length - 1]?.key ?? '',
        )}; the busiest day was ${longDayLabel(busiest?.key ?? '')} with ${numberText(busiest?.value ?? 0)}.`;
  return (
    <Figure
      caption={caption}
      className="wide"
      table={{
        head: ['Day', 'Tasks created'],
        rows: data.map((each) => ({ key: each.key, cells: [longDayLabel(each.key), each.value] })),
      }}
    >
      <Svg title={caption} desc={desc} width={width} height={height}>
        {[0, 0.5, 1]
          .filter((fraction) => Number.isInteger(max * fraction))
          .map((fraction) => {
            const y = top + plot - fraction * plot;
            return (
              <g key={fraction}>
                <line x1={left} x2={width} y1={y} y2={y} className="grid" />
                <text x={left - 6} y={y + 4} textAnchor="end" className="axis-label small">
                  {numberText(max * fraction)}
                </text>
              </g>
            );
          })}
        {data.map((each, index) => {
          const barHeight = (each.value / max) * plot;
          const x = left + index * step + step * 0.15;
          return (
            <g key={each.key}>
              <rect x={x} y={top + plot - barHeight} width={step * 0.7} height={barHeight} rx={2} fill={color}>
                <title>{`${longDayLabel(each.key)}: ${each.value}`}</title>
              </rect>
              {(data.length - 1 - index) % 7 === 0 ? (
                <text x={x + step * 0.35} y={height - 8} textAnchor="middle" className="axis-label small">
                  {dayLabel(each.key)}
                </text>
              ) : null}
            </g>
          );
        })}
      </Svg>
    </Figure>
  );
}

/** A ring filled to a percentage, the number in its middle. */
export function Ring({ value, label, color }: { value: number; label: string; color: string }) {
  const radius = 42;
  const circumference = 2 * Math.PI * radius;
  const filled = (Math.max(0, Math.min(100, value)) / 100) * circumference;
  return (
    <Svg title={label} desc={`${value}%`} width={110} height={110}>
      <circle cx={55} cy={55} r={radius} className="ring-track" strokeWidth={12} fill="none" />
      <circle
        cx={55}
        cy={55}
        r={radius}
        stroke={color}
        strokeWidth={12}
        fill="none"
        strokeDasharray={`${filled} ${circumference}`}
        strokeLinecap={value > 0 && value < 100 ? 'round' : 'butt'}
        transform="rotate(-90 55 55)"
      />
      <text x={55} y={61} textAnchor="middle" className="ring-value">
        {Math.round(value)}%
      </text>
    </Svg>
  );
}
