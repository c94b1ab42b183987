import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile, validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { kustomizationDirs, REPO, readRepoFile, render } from '../support/manifests.js';

/**
 * kube-scheduler waits `httpTimeout` for every extender verb. ioplace's bind makes up to two API
 * calls in a row, each of up to `binding.apiTimeoutSeconds` (it reads a pod the watch has not
 * shown yet, then creates the Binding). If the scheduler gave up first, it would requeue the pod
 * while ioplace may still create its Binding. So: 2 x apiTimeoutSeconds + 1 s <= httpTimeout, for
 * every ioplace configuration and every scheduler configuration the repository ships.
 */
const BIND_API_CALLS = 2;
const MARGIN_SECONDS = 1;

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };

/** A Go duration ("5s", "1m30s", "500ms") in seconds. */
function goDurationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_SECONDS[unit as string] as number), 0);
}

interface Extender {
  urlPrefix: string;
  httpTimeout?: string;
  bindVerb?: string;
}

/** Every extender block: the scheduler configurations rendered from manifests/ and the snippet. */
function extenders(): { where: string; extender: Extender }[] {
  const found: { where: string; extender: Extender }[] = [];
  const add = (where: string, text: string) => {
    const doc = parseYaml(text) as { kind?: string; extenders?: Extender[] };
    for (const extender of doc.extenders ?? []) found.push({ where, extender });
  };
  for (const dir of kustomizationDirs()) {
    for (const o of render(dir)) {
      if (o.kind !== 'ConfigMap') continue;
      for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {}))
        if (/kind:\s*KubeSchedulerConfiguration/.test(text))
          add(`${dir}: ConfigMap ${o.metadata.name} ${key}`, text);
    }
  }
  add('manifests/scheduler-snippet/extender.yaml', readRepoFile('manifests/scheduler-snippet/extender.yaml'));
  return found;
}

/** Every ioplace configuration: config/ and the ConfigMaps named ioplace-config of manifests/. */
function ioplaceConfigs(): { where: string; config: Config }[] {
  const found = [
    { where: 'config/ioplace.yaml', config: loadConfigFile(join(REPO, 'config/ioplace.yaml')) },
    { where: 'config/standalone.yaml', config: loadConfigFile(join(REPO, 'config/standalone.yaml')) },
  ];
  for (const dir of kustomizationDirs()) {
    for (const o of render(dir)) {
      if (o.kind !== 'ConfigMap' || o.metadata.name !== 'ioplace-config') continue;
      for (const [key, text] of Object.entries(o.data as Record<string, string>))
        found.push({
          where: `${dir}: ConfigMap ioplace-config ${key}`,
          config: validateConfig(parseYaml(text)),
        });
    }
  }
  return found;
}

describe("the extender's httpTimeout and ioplace's binding.apiTimeoutSeconds", () => {
  it('reads Go durations', () => {
    expect([goDurationSeconds('5s'), goDurationSeconds('1m30s'), goDurationSeconds('500ms')]).toEqual([
      5, 90, 0.5,
    ]);
    expect(() => goDurationSeconds('5 seconds')).toThrow();
  });

  it('has the scheduler configurations and the ioplace configurations to compare', () => {
    expect(extenders().length).toBeGreaterThanOrEqual(2);
    expect(ioplaceConfigs().length).toBeGreaterThanOrEqual(3);
  });

  it('let a bind finish in ioplace before the scheduler stops waiting for it: 2 x apiTimeout + 1 s <= httpTimeout', () => {
    const problems: string[] = [];
    for (const { where: s, extender } of extenders()) {
      expect(extender.bindVerb, s).toBe('bind');
      // Unset, kube-scheduler waits 5 s (DefaultExtenderTimeout); the manifests always set it.
      expect(extender.httpTimeout, s).toBeDefined();
      const http = goDurationSeconds(extender.httpTimeout as string);
      for (const { where: c, config } of ioplaceConfigs()) {
        const bind = BIND_API_CALLS * config.binding.apiTimeoutSeconds + MARGIN_SECONDS;
        if (bind > http) problems.push(`${c}: a bind may take ${bind}s, ${s} waits ${http}s`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('do not let a hung ioplace stall a scheduling cycle (filter waits httpTimeout) for more than 10 s', () => {
    for (const { where, extender } of extenders())
      expect(goDurationSeconds(extender.httpTimeout as string), where).toBeLessThanOrEqual(10);
  });
});
