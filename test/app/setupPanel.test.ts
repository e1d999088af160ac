import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { SetupPanel } from '../../src/app/components/SetupPanel.tsx';

/**
 * Server-rendered markup of the setup form: enough to check what it shows, without a browser.
 * (Stores render their initial state here; the bad-link marks are tested in e2e/forms.spec.ts.)
 */
beforeAll(() => {
  (globalThis as { location?: unknown }).location = { pathname: '/', hostname: 'example.org', origin: 'http://example.org', hash: '' };
});

const room = parseConfig({ room: 'class-7', algo: 'fedavg', dataset: 'blobs', nodes: 12, lr: 0.05 });
const render = (props: Partial<Parameters<typeof SetupPanel>[0]> = {}) =>
  renderToStaticMarkup(createElement(SetupPanel, { mode: 'live', config: room, shareLink: 'http://example.org/#v=1&room=class-7', onApply: () => undefined, ...props }));

/** The opening tag of the control named `name`. */
const tag = (html: string, element: string, name: string) => html.match(new RegExp(`<${element}[^>]*name="${name}"[^>]*>`))?.[0] ?? '';

describe('SetupPanel', () => {
  it('lockedBy: a banner, the room\'s values read-only, no Apply and no Teacher mode', () => {
    const html = render({ lockedBy: { owner: 'its owner', summary: 'fedavg on blobs' } });
    expect(html).toContain('This room runs fedavg on blobs, set by its owner.');
    expect(html).not.toContain('data-testid="apply"');
    expect(html).not.toContain('data-testid="teacher-toggle"');
    expect(tag(html, 'input', 'nodes')).toMatch(/value="12"/);
    expect(tag(html, 'input', 'nodes')).toMatch(/readonly=""/i);
    expect(tag(html, 'input', 'room')).toMatch(/readonly=""/i);
    expect(tag(html, 'select', 'algo')).toMatch(/disabled=""/);
    // Help still opens: the ⓘ buttons stay enabled.
    expect(html).toMatch(/<button[^>]*data-testid="help-nodes"(?![^>]*disabled)/);
  });

  it('without lockedBy: editable, with Apply and Teacher mode', () => {
    const html = render();
    expect(html).not.toContain('data-testid="locked-banner"');
    expect(html).toContain('data-testid="apply"');
    expect(html).toContain('data-testid="teacher-toggle"');
    expect(tag(html, 'input', 'nodes')).not.toMatch(/readonly/i);
    expect(tag(html, 'select', 'algo')).not.toMatch(/disabled/);
  });

  it('RQM: its keys and the privacy ε appear only with dp=rqm', () => {
    const plain = render();
    expect(tag(plain, 'select', 'dp')).toMatch(/name="dp"/);
    expect(tag(plain, 'input', 'rqmKeep')).toBe('');
    expect(plain).not.toContain('data-testid="run-facts"');
    const html = render({ config: parseConfig({ room: 'class-7', algo: 'fedavg', dataset: 'blobs', dp: 'rqm' }) });
    for (const key of ['rqmClip', 'rqmDelta', 'rqmLevels', 'rqmKeep', 'dpDelta']) expect(tag(html, 'input', key), key).toMatch(/name=/);
    // The mlp on blobs has 371 parameters; 20 rounds at the defaults.
    expect(html).toMatch(/FedAvg, privacy ε: ε = [\d.]+ at δ = 0.00001 after 20 updates of 371 numbers \(a node that trains in all 20 rounds\)/);
  });

  it('secure aggregation: a FedAvg field in live rooms (not compare mode); its threshold and its byte cost appear only with secagg=1', () => {
    const plain = render();
    expect(tag(plain, 'select', 'secagg')).toMatch(/name="secagg"/);
    expect(tag(plain, 'input', 'secaggThreshold')).toBe('');
    expect(tag(render({ mode: 'compare', runs: ['fedavg'] }), 'select', 'secagg')).toBe('');
    const html = render({ config: parseConfig({ room: 'class-7', algo: 'fedavg', dataset: 'blobs', nodes: 4, secagg: 1 }) });
    expect(tag(html, 'input', 'secaggThreshold')).toMatch(/name=/);
    expect(html).toMatch(/FedAvg, secure aggregation cost: 1.3 kB of keys and shares per client and round with 4 clients, on top of its update \(1.5 kB as float32; 1.85× in all\); the coordinator sees only the sum/);
  });

  it('final=merge: a gossip key in compare mode only', () => {
    const gossip = parseConfig({ room: 'class-7', algo: 'gossip', dataset: 'blobs' });
    expect(tag(render({ config: gossip }), 'select', 'final')).toBe('');
    expect(tag(render({ config: gossip, mode: 'compare', runs: ['gossip-vca'] }), 'select', 'final')).toMatch(/name="final"/);
  });
});
