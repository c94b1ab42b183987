import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CAPTURES = fileURLToPath(new URL('../fixtures/kube-scheduler-v1.32.5/', import.meta.url));

/** A request body captured from a real kube-scheduler v1.32.5 (see the folder's README). */
export function capture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(`${CAPTURES}${name}.json`, 'utf8')) as T;
}

export function captureText(name: string): string {
  return readFileSync(`${CAPTURES}${name}`, 'utf8');
}

export interface CapturedArgs {
  Pod: { metadata: { name: string; uid: string; annotations?: Record<string, string> }; spec: unknown };
  Nodes: { metadata: unknown; items: { metadata: { name: string } }[] } | null;
  NodeNames: string[] | null;
}
