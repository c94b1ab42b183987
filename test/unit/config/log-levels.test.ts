import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LogLevels } from '../../../src/config/log-levels.js';

describe('LogLevels', () => {
  it('moves the root and every child it made or follows; later children take the new level', () => {
    const root = pino({ level: 'info' }, { write: () => {} });
    const levels = new LogLevels(root);
    const made = levels.child(root, { module: 'advertise' });
    const followed = levels.follow(root.child({}));
    const unfollowed = root.child({ module: 'other' });
    levels.level = 'debug';
    expect([root.level, made.level, followed.level]).toEqual(['debug', 'debug', 'debug']);
    // What pino does by itself: a child made before the change keeps its level.
    expect(unfollowed.level).toBe('info');
    expect(followed.child({ reqId: 1 }).level).toBe('debug');
  });
});
