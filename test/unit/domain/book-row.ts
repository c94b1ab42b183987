import { Inventory } from '../../../src/domain/inventory.js';
import { NodeBook } from '../../../src/domain/node-book.js';
import type { PlacementSettings } from '../../../src/domain/placement-settings.js';
import type { Amounts } from '../../../src/domain/resources.js';

/**
 * A book holding one node, reporting `capacity` and `usage` now, and the node's row of figures as
 * the scheduling path reads it (NodeBook.rowOf, then freshFigures).
 */
export function bookRow(
  capacity: Amounts,
  usage: Amounts,
  settings: Pick<PlacementSettings, 'reserveFraction'>,
) {
  const book = new NodeBook();
  new Inventory({ maxNodes: 1, book }).record('n', { capacity, usage }, 0);
  const row = book.rowOf('n');
  const figures = book.freshFigures(row, 0, { staleAfterMs: 1, reserveFraction: settings.reserveFraction });
  if (figures === undefined) throw new Error('the node is not fresh');
  return { figures, row, state: book.get('n') };
}
