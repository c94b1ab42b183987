import { describe, expect, it } from 'vitest';
import {
  advertisePatch,
  decodeNode,
  pointerSegment,
  quantityText,
} from '../../../src/cluster/node-status.js';

describe('decodeNode', () => {
  it("reads ioplace's resources from capacity and allocatable, whatever their spelling", () => {
    const record = decodeNode({
      metadata: { name: 'n1' },
      status: {
        capacity: { cpu: '4', 'ioplace.io/iops': '45k', 'ioplace.io/egress-bandwidth': '9G' },
        allocatable: { cpu: '3800m', 'ioplace.io/iops': '45000' },
      },
    });
    expect(record).toEqual({
      name: 'n1',
      status: { capacity: { iops: 45_000, egressBandwidth: 9e9 }, allocatable: { iops: 45_000 } },
    });
  });

  it('tells a missing map from an empty one, and drops values that do not parse', () => {
    expect(decodeNode({ metadata: { name: 'n1' } })?.status).toEqual({
      capacity: undefined,
      allocatable: undefined,
    });
    expect(
      decodeNode({
        metadata: { name: 'n1' },
        status: { capacity: { 'ioplace.io/iops': 'lots' }, allocatable: {} },
      })?.status,
    ).toEqual({ capacity: {}, allocatable: {} });
  });

  it('is undefined for what is not a Node', () => {
    expect(decodeNode(null)).toBeUndefined();
    expect(decodeNode({ metadata: {} })).toBeUndefined();
    expect(decodeNode('n1')).toBeUndefined();
  });
});

describe('advertisePatch', () => {
  const present = { capacity: { iops: 1 }, allocatable: {} };

  it('adds each resource to both maps, with "/" escaped as ~1 in the pointer', () => {
    expect(advertisePatch({ iops: 45_000, ingressBandwidth: 9e9 }, present)).toEqual([
      { op: 'add', path: '/status/capacity/ioplace.io~1ingress-bandwidth', value: '9000000000' },
      { op: 'add', path: '/status/capacity/ioplace.io~1iops', value: '45000' },
      { op: 'add', path: '/status/allocatable/ioplace.io~1ingress-bandwidth', value: '9000000000' },
      { op: 'add', path: '/status/allocatable/ioplace.io~1iops', value: '45000' },
    ]);
  });

  it('creates a map the Node does not have yet, since a pointer into it would fail', () => {
    expect(advertisePatch({ iops: 45_000 }, { capacity: undefined, allocatable: {} })).toEqual([
      { op: 'add', path: '/status/capacity', value: { 'ioplace.io/iops': '45000' } },
      { op: 'add', path: '/status/allocatable/ioplace.io~1iops', value: '45000' },
    ]);
  });

  it('is empty when the Node already shows the figures, and touches only what differs', () => {
    const shown = {
      capacity: { iops: 45_000, egressBandwidth: 1e9 },
      allocatable: { iops: 45_000, egressBandwidth: 1e9 },
    };
    expect(advertisePatch({ iops: 45_000, egressBandwidth: 1e9 }, shown)).toEqual([]);
    expect(advertisePatch({ iops: 45_000, egressBandwidth: 2e9 }, shown)).toEqual([
      { op: 'add', path: '/status/capacity/ioplace.io~1egress-bandwidth', value: '2000000000' },
      { op: 'add', path: '/status/allocatable/ioplace.io~1egress-bandwidth', value: '2000000000' },
    ]);
  });

  it('never writes a dimension the node does not report', () => {
    expect(advertisePatch({}, { capacity: undefined, allocatable: undefined })).toEqual([]);
    const ops = advertisePatch({ iops: 10 }, { capacity: {}, allocatable: {} });
    expect(ops.map((o) => o.path)).toEqual([
      '/status/capacity/ioplace.io~1iops',
      '/status/allocatable/ioplace.io~1iops',
    ]);
  });
});

describe('wire helpers', () => {
  it('escapes ~ before / in a pointer segment (RFC 6901)', () => {
    expect(pointerSegment('a~/b')).toBe('a~0~1b');
  });

  it('writes whole amounts as plain digits, up to the largest amount ioplace accepts', () => {
    expect(quantityText(45_000)).toBe('45000');
    expect(quantityText(1e18)).toBe('1000000000000000000');
    expect(quantityText(0)).toBe('0');
  });
});
