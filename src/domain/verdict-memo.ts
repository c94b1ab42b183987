import { rowNumber } from './figure-rows.js';
import type { FitVerdict } from './fit.js';
import type { NodeState } from './node-book.js';

interface Memo {
  readonly state: NodeState;
  readonly version: number;
  readonly question: string;
  readonly verdict: FitVerdict;
}

/**
 * The last verdict remembered for each node, good while neither the node nor the question
 * changes. The scheduler asks about the same demand over and over (retries, the replicas of one
 * workload) while most nodes stay as they were, so a rejection's message is worth keeping rather
 * than formatting again for every request. A question is a demand and the settings it was judged
 * under (Placement words it); a node changes with its NodeState's version, which every report and
 * commitment bumps. One memo a node, found by the node's row number rather than by its name; a
 * memo of a node that has gone stays until its row is taken by another node, which it does not
 * match.
 */
export class VerdictMemo {
  readonly #memos: (Memo | undefined)[] = [];

  /** The verdict remembered for `question` on the node, if the node has not changed since. */
  recall(state: NodeState, question: string): FitVerdict | undefined {
    const memo = this.#memos[rowNumber(state.row)];
    return memo !== undefined &&
      memo.state === state &&
      memo.version === state.version &&
      memo.question === question
      ? memo.verdict
      : undefined;
  }

  remember(state: NodeState, question: string, verdict: FitVerdict): void {
    const at = rowNumber(state.row);
    const memos = this.#memos;
    // Grown one by one, so that the array stays a dense one however far the first row is.
    while (memos.length <= at) memos.push(undefined);
    memos[at] = { state, version: state.version, question, verdict };
  }
}
