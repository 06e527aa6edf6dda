/**
 * The time every age rule reads ("older than the pending TTL", "not read for 90 days"). System time by default;
 * with CLOCK_CONTROL=true (refused in production) operators and tests can set or advance it through
 * PUT /admin/clock, so time-based jobs can be exercised without waiting or back-dating rows.
 */
export abstract class Clock {
  abstract now(): Date;
  /** Whether set/advance are allowed (CLOCK_CONTROL=true). */
  get controllable(): boolean {
    return false;
  }
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/** System time plus an offset that can be set or advanced; it never runs backwards past what `set` asks for. */
export class ControllableClock extends Clock {
  private offsetMs = 0;

  override get controllable(): boolean {
    return true;
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** From now on, now() reads `at` plus the time elapsed since this call. */
  set(at: Date): Date {
    if (Number.isNaN(at.getTime())) throw new RangeError('not a valid date');
    this.offsetMs = at.getTime() - Date.now();
    return this.now();
  }

  advance(seconds: number): Date {
    if (!Number.isFinite(seconds)) throw new RangeError('seconds must be a finite number');
    this.offsetMs += seconds * 1000;
    return this.now();
  }

  /** Back to system time. */
  reset(): Date {
    this.offsetMs = 0;
    return this.now();
  }

  get offsetSeconds(): number {
    return this.offsetMs / 1000;
  }
}

export function createClock(config: { CLOCK_CONTROL: boolean }): Clock {
  return config.CLOCK_CONTROL ? new ControllableClock() : new SystemClock();
}
