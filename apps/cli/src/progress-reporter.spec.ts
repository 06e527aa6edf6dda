import { parseRate } from './cli-program';
import { RateMeter } from './progress-reporter';

describe('media CLI helpers', () => {
  it('measures speed over a sliding window, not counting what was there when the phase started (resumed parts)', () => {
    const m = new RateMeter(5000);
    expect(m.sample(100 * 1024 * 1024, 0)).toBe(0);
    expect(m.sample(101 * 1024 * 1024, 1000)).toBe(1024 * 1024);
    expect(m.sample(103 * 1024 * 1024, 2000)).toBe(1.5 * 1024 * 1024);
    // Older samples leave the window: the rate follows the recent pace.
    for (let t = 3000; t <= 12000; t += 1000) m.sample(103 * 1024 * 1024 + ((t - 2000) / 1000) * 4 * 1024 * 1024, t);
    expect(m.sample(143 * 1024 * 1024, 12000)).toBeCloseTo(4 * 1024 * 1024, -3);
    m.reset();
    expect(m.sample(5, 20000)).toBe(0);
  });

  it('parses --limit-rate', () => {
    expect([parseRate('100'), parseRate('512K'), parseRate('20M'), parseRate('1.5m'), parseRate('1G'), parseRate('2MiB/s')]).toEqual([
      100,
      512 * 1024,
      20 * 1024 * 1024,
      1.5 * 1024 * 1024,
      1024 ** 3,
      2 * 1024 * 1024,
    ]);
    for (const bad of ['', 'fast', '0', '-1M', '10T']) expect(() => parseRate(bad)).toThrow(/--limit-rate/);
  });
});
