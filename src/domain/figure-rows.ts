/**
 * The layout of a node's row of derived figures in NodeBook.figures, and the only code that knows
 * it: plain doubles in one typed array, so that the scheduling path reads a node's figures from
 * one cache line instead of chasing a report object, two figure objects and a boxed number per
 * field. NaN marks a figure that is not there (no report, or a dimension the node does not report).
 *
 * A row is named by where it starts in the array (`row`); dimension `i` is DIMENSIONS[i]. The
 * accessors are small monomorphic functions over (Float64Array, number), which V8 inlines on the
 * hot path (filter and prioritize over thousands of candidates): keep them that way.
 */

/** Numbers per row: 64 bytes, one cache line. */
export const ROW_STRIDE = 8;

/** Clock time (ms) of the report; NaN without one. */
const RECEIVED_AT = 0;
/** The reserve fraction the row was derived with; NaN when a change made it stale. */
const DERIVED_FOR = 1;
/** freeAmount of DIMENSIONS[i] at FREE + i. */
const FREE = 2;
/** allocatableAmount of DIMENSIONS[i] at ALLOCATABLE + i. */
const ALLOCATABLE = 5;

/** An array of `rows` rows, every figure NaN. */
export function emptyFigures(rows: number): Float64Array {
  return new Float64Array(rows * ROW_STRIDE).fill(Number.NaN);
}

/** The number of the row starting at `row` (0, 1, 2, ...), for arrays kept beside the figures. */
export function rowNumber(row: number): number {
  return row / ROW_STRIDE;
}

/** When the node's report was received (clock ms); NaN without a report. */
export function receivedAtOf(figures: Float64Array, row: number): number {
  return figures[row + RECEIVED_AT] as number;
}

/** Free capacity of dimension i; NaN when the node does not report it. */
export function freeOf(figures: Float64Array, row: number, i: number): number {
  return figures[row + FREE + i] as number;
}

/** Allocatable capacity of dimension i; NaN when the node does not report it. */
export function allocatableOf(figures: Float64Array, row: number, i: number): number {
  return figures[row + ALLOCATABLE + i] as number;
}

/** Whether the row holds figures derived for `reserveFraction` since the node's last change. */
export function isDerivedFor(figures: Float64Array, row: number, reserveFraction: number): boolean {
  return figures[row + DERIVED_FOR] === reserveFraction;
}

/** Marks the row stale: the next read derives it again. */
export function markStale(figures: Float64Array, row: number): void {
  figures[row + DERIVED_FOR] = Number.NaN;
}

/** Clears the row to NaN: no report, no figures, stale. */
export function clearRow(figures: Float64Array, row: number): void {
  figures.fill(Number.NaN, row, row + ROW_STRIDE);
}

/** Starts deriving the row: the report's time, and every dimension's figures unknown. */
export function beginRow(figures: Float64Array, row: number, receivedAt: number): void {
  clearRow(figures, row);
  figures[row + RECEIVED_AT] = receivedAt;
}

/** Writes dimension i's two figures. */
export function writeDimension(
  figures: Float64Array,
  row: number,
  i: number,
  allocatable: number,
  free: number,
): void {
  figures[row + ALLOCATABLE + i] = allocatable;
  figures[row + FREE + i] = free;
}

/** Ends deriving the row: it now holds the figures for `reserveFraction`. */
export function endRow(figures: Float64Array, row: number, reserveFraction: number): void {
  figures[row + DERIVED_FOR] = reserveFraction;
}
