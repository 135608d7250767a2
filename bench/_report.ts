/**
 * Figures, the table they print as, and one machine-readable line each.
 *
 * Every figure may carry a same-run baseline, the ratio to it and a target on
 * that ratio (or on the value itself), so "met" is decided here, once.
 *
 * @module
 */

/** A target on a ratio or on a value. */
export interface Target {
  /** `"<="`: at most; `">="`: at least. */
  op: "<=" | ">=";
  /** The bound. */
  bound: number;
  /** What the bound applies to. @default "ratio" */
  on?: "ratio" | "value";
}

/** One measured figure. */
export interface Figure {
  /** Section, e.g. `"warm/process"`. */
  section: string;
  /** What was measured. */
  name: string;
  /** The figure. */
  value: number;
  /** Its unit (`"ms"`, `"µs"`, `"calls/s"`, `"MiB/s"`, `"MB"`, `"runners"`). */
  unit: string;
  /** The same-run baseline, in the same unit. */
  baseline?: { name: string; value: number };
  /** The target, when the figure has one. */
  target?: Target;
  /** Free text (phases, counts). */
  note?: string;
}

/** A figure with its ratio and verdict worked out. */
export interface Reported extends Figure {
  /** `value / baseline.value`, when there is a baseline. */
  ratio?: number;
  /** Whether the target is met (absent without a target). */
  met?: boolean;
}

/** Works out the ratio and verdict. */
export function evaluate(f: Figure): Reported {
  const out: Reported = { ...f };
  if (f.baseline && f.baseline.value > 0) out.ratio = f.value / f.baseline.value;
  if (f.target) {
    const x = (f.target.on ?? "ratio") === "ratio" ? out.ratio : f.value;
    if (x !== undefined && Number.isFinite(x)) {
      out.met = f.target.op === "<=" ? x <= f.target.bound : x >= f.target.bound;
    }
  }
  return out;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString("en-US");
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function targetText(t: Target | undefined): string {
  if (!t) return "";
  const what = (t.on ?? "ratio") === "ratio" ? "×" : "";
  return `${t.op === "<=" ? "≤" : "≥"} ${t.bound}${what}`;
}

/** Prints one `BENCH {json}` line per figure, as it is measured. */
export function emit(f: Figure): Reported {
  const r = evaluate(f);
  console.log(`BENCH ${JSON.stringify(r)}`);
  return r;
}

/** Prints a note that a section was skipped, as a JSON line too. */
export function emitSkip(section: string, reason: string): Reported {
  return emit({ section, name: "skipped", value: 0, unit: "", note: reason });
}

/**
 * Renders figures as a Markdown table.
 *
 * @param figures The figures, in order.
 * @returns The table.
 */
export function table(figures: readonly Reported[]): string {
  const rows = [
    "| section | figure | value | baseline (same run) | ratio | target | met |",
    "| --- | --- | ---: | --- | ---: | --- | --- |",
  ];
  for (const f of figures) {
    if (f.name === "skipped") {
      rows.push(`| ${f.section} | skipped: ${f.note ?? ""} | | | | | |`);
      continue;
    }
    const base = f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}` : "";
    const ratio = f.ratio === undefined ? "" : `${fmt(f.ratio)}×`;
    const met = f.met === undefined ? "" : f.met ? "yes" : "**no**";
    const note = f.note ? ` (${f.note})` : "";
    rows.push(
      `| ${f.section} | ${f.name}${note} | ${fmt(f.value)} ${f.unit} | ${base} | ${ratio} | ${
        targetText(f.target)
      } | ${met} |`,
    );
  }
  return rows.join("\n");
}
