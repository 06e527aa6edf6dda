import { ControllableClock, createClock, SystemClock } from './clock';

describe('Clock', () => {
  it('is system time unless CLOCK_CONTROL is on', () => {
    const c = createClock({ CLOCK_CONTROL: false });
    expect(c).toBeInstanceOf(SystemClock);
    expect(c.controllable).toBe(false);
    expect(Math.abs(c.now().getTime() - Date.now())).toBeLessThan(50);
  });

  it('can be set and advanced when controllable, and keeps running', async () => {
    const c = createClock({ CLOCK_CONTROL: true }) as ControllableClock;
    expect(c.controllable).toBe(true);
    const at = new Date('2030-01-01T00:00:00Z');
    c.set(at);
    expect(Math.abs(c.now().getTime() - at.getTime())).toBeLessThan(50);
    c.advance(3600);
    expect(Math.abs(c.now().getTime() - (at.getTime() + 3600_000))).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 30));
    expect(c.now().getTime()).toBeGreaterThanOrEqual(at.getTime() + 3600_000 + 20);
    c.reset();
    expect(Math.abs(c.now().getTime() - Date.now())).toBeLessThan(50);
    expect(() => c.set(new Date('nope'))).toThrow(RangeError);
  });
});
