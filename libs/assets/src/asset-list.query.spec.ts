import { AppError, ErrorCode } from '@app/core';
import { buildListQuery, decodeCursor, encodeCursor, parseTagFilter, rankedPage, tieDistance, tiedPage } from './asset-list.query';
import { AssetStatus } from './media-asset.entity';

const viewer = { userId: '7', principals: ['*', 'user:7', 'group:eng'] };
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as AppError).code;
  }
  return undefined;
};

describe('tag filters', () => {
  it('splits key:value at the first colon for plain keys', () => {
    expect(parseTagFilter('project:alpha')).toEqual([{ key: 'project', value: 'alpha' }]);
    expect(parseTagFilter('project:')).toEqual([{ key: 'project', value: '' }]);
  });

  it('tries every split that leaves a valid key, so keys and values may both contain colons', () => {
    expect(parseTagFilter('exif:make:Canon')).toEqual([
      { key: 'exif', value: 'make:Canon' },
      { key: 'exif:make', value: 'Canon' },
    ]);
    expect(parseTagFilter('source:https://x')).toEqual([
      { key: 'source', value: 'https://x' },
      { key: 'source:https', value: '//x' },
    ]);
  });

  it('refuses a tag without a valid key', () => {
    for (const t of ['nocolon', ':value', 'Bad Key:v']) expect(code(() => parseTagFilter(t))).toBe(ErrorCode.ValidationFailed);
  });
});

describe('cursors', () => {
  const filters = { statuses: [AssetStatus.Ready] };
  const c = { us: '1764000000123456', id: '6f1c1e2a-8a57-4c1b-9b0e-1d2c3b4a5f60' };

  it('round-trip exactly (microseconds kept)', () => {
    expect(decodeCursor(encodeCursor(c, filters), filters)).toEqual(c);
    const ranked = { ...c, dist: '0.6923077' };
    expect(decodeCursor(encodeCursor(ranked, { q: 'x' }), { q: 'x' })).toEqual(ranked);
    expect(code(() => decodeCursor(encodeCursor(c, { q: 'x' }), { q: 'x' }))).toBe(ErrorCode.ValidationFailed);
  });

  it('are refused when garbled or reused with other filters', () => {
    expect(code(() => decodeCursor('garbage', filters))).toBe(ErrorCode.ValidationFailed);
    expect(code(() => decodeCursor(Buffer.from('{"t":"x","i":"y"}').toString('base64url'), filters))).toBe(ErrorCode.ValidationFailed);
    expect(code(() => decodeCursor(encodeCursor(c, filters), { statuses: [AssetStatus.Failed] }))).toBe(ErrorCode.ValidationFailed);
  });
});

describe('list SQL', () => {
  it('unions own, shared and bucket-granted branches, each ordered and limited, newest first', () => {
    const q = buildListQuery(viewer, {}, 50, undefined);
    expect(q.text).toMatch(/UNION ALL/);
    expect(q.text.match(/ORDER BY a\.created_at DESC, a\.asset_id DESC LIMIT/g)).toHaveLength(3);
    // The bucket branch: buckets the caller owns, holds read on, or public ones; never the default bucket; disjoint
    // from the shared branch.
    expect(q.text).toMatch(
      /vb\.name <> 'default' AND \(vb\.owner_id = \$\d+::bigint OR vb\.public OR EXISTS \(SELECT 1 FROM bucket_acl bg/,
    );
    expect(q.text).toMatch(/AND NOT EXISTS \(SELECT 1 FROM asset_acl g/);
    // The predicate of media_assets_container_created_idx, stated so that each bucket's scan can use it (the planner
    // cannot prove it from container = vb.name and would walk every live asset newest first).
    expect(q.text).toMatch(/a\.container = vb\.name AND a\.container <> 'default' AND/);
    expect(q.text).toMatch(/g\.permission = 'read' AND g\.principal = ANY/);
    expect(q.values).toContain(51);
    expect(q.values).toContainEqual(viewer.principals);
  });

  it('uses only the own branch when listing the caller as owner, only the shared and bucket ones for another owner', () => {
    expect(buildListQuery(viewer, { owner: '7' }, 10).text).not.toMatch(/UNION|asset_acl|buckets/);
    const other = buildListQuery(viewer, { owner: '8' }, 10);
    expect(other.text.match(/UNION ALL/g)).toHaveLength(1);
    expect(other.text).not.toMatch(/a\.owner_id = \$1::bigint AND/);
    expect(other.text).toMatch(/asset_acl/);
    expect(other.values).toContain('8');
  });

  it('searches the stored search_text: contains-filter, KNN order by distance in each branch, the page cut exactly', () => {
    const q = buildListQuery(viewer, { q: "Café'%" }, 50);
    expect(q.text).not.toMatch(/search_fold\(a\./); // nothing folded per row
    expect(q.text).toMatch(/a\.search_text LIKE '%' \|\| search_fold\(\$\d+\) \|\| '%'/);
    expect(q.values).toEqual(expect.arrayContaining(["Café'%", "Café'\\%"]));
    // Own and bucket branches over media_assets; the shared one per principal, over the grants' copy of search_text.
    expect(q.text.match(/ORDER BY \(a\.search_text <-> search_fold\(\$1\)\) LIMIT/g)).toHaveLength(2);
    expect(
      q.text.match(
        /FROM asset_acl g JOIN media_assets a ON a\.asset_id = g\.asset_id WHERE g\.principal = \$\d+ AND g\.permission = 'read' AND g\.search_text LIKE '%' \|\| search_fold\(\$2\) \|\| '%'/g,
      ),
    ).toHaveLength(3);
    expect(q.text.match(/ORDER BY \(g\.search_text <-> search_fold\(\$1\)\) LIMIT/g)).toHaveLength(3);
    expect(q.values).toEqual(expect.arrayContaining(viewer.principals));
    expect(q.ranked?.nearest).toBe(2 * 51 + 20);
    expect(q.values).toContain(q.ranked?.nearest);
    expect(
      q.ranked?.exact.text.match(/ORDER BY \(a\.search_text <-> search_fold\(\$1\)\), a\.created_at DESC, a\.asset_id DESC LIMIT/g),
    ).toHaveLength(2);
    expect(
      q.ranked?.exact.text.match(/ORDER BY \(g\.search_text <-> search_fold\(\$1\)\), a\.created_at DESC, a\.asset_id DESC LIMIT/g),
    ).toHaveLength(3);
    expect(q.ranked?.exact.text).toMatch(/^SELECT \* FROM \(SELECT DISTINCT ON \(u\."assetId"\) \* FROM/);
    // Every parameter of each statement is used by it (Postgres cannot type an unused one).
    for (const s of [q, q.ranked!.exact]) {
      for (let i = 1; i <= s.values.length; i++) expect(s.text).toMatch(new RegExp(`\\$${i}(?!\\d)`));
      expect(s.text).not.toMatch(new RegExp(`\\$${s.values.length + 1}(?!\\d)`));
    }
    const next = buildListQuery(viewer, { q: 'x' }, 10, { us: '1', id: '6f1c1e2a-8a57-4c1b-9b0e-1d2c3b4a5f60', dist: '0.25' });
    expect(next.text).toMatch(
      /> \$\d+::real OR \(\(a\.search_text <-> search_fold\(\$1\)\) = \$\d+::real AND \(a\.created_at, a\.asset_id\) < \(/,
    );
  });

  it('cuts a ranked page from the nearest rows only when no row tied with its last one can be missing', () => {
    const rows = (ds: number[]) => ds.map((distance) => ({ distance }));
    // Fewer than fetched: that is every match.
    expect(rankedPage(rows([0.1, 0.2, 0.3]), 2, 6)).toHaveLength(3);
    // All fetched, and the last fetched is farther than the page's last: exact.
    expect(rankedPage(rows([0.1, 0.2, 0.3, 0.3, 0.4, 0.5]), 2, 6)).toEqual(rows([0.1, 0.2, 0.3]));
    // All fetched and still tied with the page's last row: more such rows may exist.
    expect(rankedPage(rows([0.1, 0.2, 0.3, 0.3, 0.3, 0.3]), 2, 6)).toBeNull();
  });

  it('keeps an asset readable through several principals once, and falls back when the duplicates leave the page short', () => {
    const rows = (rs: [string, number][]) => rs.map(([assetId, distance]) => ({ assetId, distance }));
    expect(
      rankedPage(
        rows([
          ['a', 0.1],
          ['a', 0.1],
          ['b', 0.2],
          ['c', 0.3],
          ['d', 0.4],
          ['e', 0.5],
        ]),
        2,
        6,
      ),
    ).toEqual(
      rows([
        ['a', 0.1],
        ['b', 0.2],
        ['c', 0.3],
      ]),
    );
    expect(
      rankedPage(
        rows([
          ['a', 0.1],
          ['a', 0.1],
          ['b', 0.2],
        ]),
        2,
        6,
      ),
    ).toEqual(
      rows([
        ['a', 0.1],
        ['b', 0.2],
      ]),
    );
    expect(
      rankedPage(
        rows([
          ['a', 0.1],
          ['a', 0.1],
          ['b', 0.2],
          ['b', 0.2],
          ['a', 0.1],
          ['b', 0.2],
        ]),
        2,
        6,
      ),
    ).toBeNull();
  });

  it('reads the grants with one scan of the matches when the caller speaks for very many principals', () => {
    const many = { userId: '7', principals: ['*', 'user:7', ...Array.from({ length: 80 }, (_, i) => `group:g${i}`)] };
    const q = buildListQuery(many, { q: 'x' }, 10);
    expect(q.text).not.toMatch(/FROM asset_acl g JOIN/);
    expect(q.text).toMatch(/AND EXISTS \(SELECT 1 FROM asset_acl g WHERE g\.asset_id = a\.asset_id/);
  });

  it('matches short tag values through the partial (key, value, asset_id) index, long ones through md5', () => {
    const short = buildListQuery(viewer, { tags: [parseTagFilter('project:alpha')] }, 10);
    expect(short.text).toMatch(/m\.value = \$\d+ AND octet_length\(m\.value\) <= 512/);
    const long = buildListQuery(viewer, { tags: [parseTagFilter(`note:${'x'.repeat(600)}`)] }, 10);
    expect(long.text).toMatch(/md5\(m\.value\) = md5\(\$\d+\)/);
  });

  it('binds every filter as a parameter (no value is spliced into the SQL)', () => {
    const q = buildListQuery(
      viewer,
      {
        owner: '7',
        statuses: [AssetStatus.Ready],
        mimeTypePrefix: "image/'x%",
        tags: [parseTagFilter("project:a'b")],
        createdFrom: '2026-01-01T00:00:00Z',
        createdTo: '2026-02-01T00:00:00Z',
      },
      10,
      { us: '1', id: '6f1c1e2a-8a57-4c1b-9b0e-1d2c3b4a5f60' },
    );
    expect(q.text).not.toMatch(/a'b|'x/);
    expect(q.values).toEqual(expect.arrayContaining(["image/'x\\%%", 'image', "a'b", 'project', '2026-01-01T00:00:00Z']));
    expect(q.text).toMatch(/split_part\(a\.mime_type, '\/', 1\) = \$/);
    const major = buildListQuery(viewer, { mimeTypePrefix: 'image/' }, 10);
    expect(major.text).not.toMatch(/LIKE/);
    expect(major.values).toContain('image');
    const partial = buildListQuery(viewer, { mimeTypePrefix: 'ima' }, 10);
    expect(partial.text).not.toMatch(/split_part/);
    expect(partial.values).toContain('ima%');
    expect(q.text).toMatch(/\(a\.created_at, a\.asset_id\) < \(/);
  });
});

describe('ties beyond the nearest rows', () => {
  const row = (assetId: string, distance: number) => ({ assetId, distance });
  it("takes the rows nearer than the page's last distance from the nearest rows, then the ties newest first", () => {
    const nearest = [row('a', 0.1), row('a', 0.1), row('b', 0.2), row('c', 0.3), row('d', 0.3)];
    expect(tieDistance(nearest, 2)).toBe('0.3');
    expect(tieDistance(nearest, 9)).toBeNull();
    const ties = [row('z', 0.3), row('c', 0.3), row('y', 0.3)];
    expect(tiedPage(nearest, ties, '0.3', 2).map((r) => r.assetId)).toEqual(['a', 'b', 'z']);
    expect(tiedPage(nearest, ties, '0.3', 9).map((r) => r.assetId)).toEqual(['a', 'b', 'z', 'c', 'y']);
  });

  it('walks each branch at that distance only, newest first, with the exact query parameters plus the distance', () => {
    const q = buildListQuery({ userId: '7', principals: ['*', 'user:7'] }, { q: 'x' }, 10);
    const t = q.ranked!.ties('0.25');
    expect(t.values).toEqual([...q.ranked!.exact.values, '0.25']);
    expect(t.text).toContain(`(a.search_text <-> search_fold($1)) = $${t.values.length}::real`);
    expect(t.text).toMatch(/ORDER BY v\."createdAt" DESC, v\."assetId" DESC LIMIT/);
    expect(t.text).not.toMatch(/ORDER BY \(a\.search_text <->/);
  });
});
