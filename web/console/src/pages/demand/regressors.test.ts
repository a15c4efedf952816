import { describe, expect, it } from 'vitest';
import { beijingToday, daysBetween, futureDays } from './regressors';

const summary = (from: string, to: string) => ({ name: 'promo', from, to, rows: 1, regions: 1, classes: 1, imported_at: '', imported_by: '' });

describe('regressor summaries', () => {
  it('counts the days of a span, both ends included', () => {
    expect(daysBetween('2026-12-01', '2026-12-01')).toBe(1);
    expect(daysBetween('2026-12-30', '2027-01-02')).toBe(4);
  });
  it('counts the days after today a forecast can use', () => {
    expect(futureDays(summary('2026-01-01', '2026-12-04'), '2026-12-04')).toBe(0);
    expect(futureDays(summary('2026-01-01', '2026-12-18'), '2026-12-04')).toBe(14);
    expect(futureDays(summary('2026-12-10', '2026-12-12'), '2026-12-04')).toBe(3);
    expect(futureDays(summary('2025-01-01', '2025-12-31'), '2026-12-04')).toBe(0);
  });
  it('takes the Beijing day, eight hours ahead of UTC', () => {
    expect(beijingToday(new Date('2026-12-04T15:59:00Z'))).toBe('2026-12-04');
    expect(beijingToday(new Date('2026-12-04T16:00:00Z'))).toBe('2026-12-05');
  });
});
