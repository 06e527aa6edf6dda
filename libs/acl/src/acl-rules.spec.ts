import { AppError, ErrorCode, Principal } from '@app/core';
import { AclEntry, checkAclEntry, checkAclList, decideAccess, effectivePermissions, MAX_ACL_ENTRIES } from './acl-rules';

const user = (id: string, groups: string[] = []): Principal => ({ userId: id, groups, roles: [], isAdmin: false });
const asset = { assetId: 'a1', ownerId: '1', deleted: false };
const fails = (f: () => unknown): AppError => {
  try {
    f();
  } catch (e) {
    return e as AppError;
  }
  throw new Error('expected a refusal');
};

describe('ACL entries', () => {
  it('accepts user, group and * principals', () => {
    expect(checkAclEntry({ principal: 'user:42', permission: 'write' })).toEqual({ principal: 'user:42', permission: 'write' });
    expect(checkAclEntry({ principal: 'group:Editors.eu@corp', permission: 'delete' }).principal).toBe('group:Editors.eu@corp');
    expect(checkAclEntry({ principal: '*', permission: 'read' }).principal).toBe('*');
  });

  it('refuses unknown principals and permissions with 400 naming the field', () => {
    for (const principal of ['bob', 'user:0', 'user:abc', 'user:99999999999999999999', 'group:', 'group:a b', 'group:a/b', '', 7]) {
      const e = fails(() => checkAclEntry({ principal, permission: 'read' }, 'acl[0]'));
      expect(e.code).toBe(ErrorCode.ValidationFailed);
      expect(e.message).toMatch(/acl\[0\]\.principal/);
    }
    expect(fails(() => checkAclEntry({ principal: 'user:1', permission: 'admin' })).message).toMatch(/permission/);
  });

  it('lets * (anyone, anonymous included) hold read only', () => {
    for (const permission of ['write', 'delete']) {
      const e = fails(() => checkAclEntry({ principal: '*', permission }));
      expect(e.code).toBe(ErrorCode.ValidationFailed);
      expect(e.message).toMatch(/only be granted read/);
    }
  });

  it('de-duplicates, sorts and caps a list', () => {
    expect(
      checkAclList([
        { principal: 'user:2', permission: 'write' },
        { principal: 'user:2', permission: 'read' },
        { principal: 'group:g', permission: 'read' },
        { principal: 'user:2', permission: 'write' },
      ]),
    ).toEqual([
      { principal: 'group:g', permission: 'read' },
      { principal: 'user:2', permission: 'read' },
      { principal: 'user:2', permission: 'write' },
    ]);
    const many = Array.from({ length: MAX_ACL_ENTRIES + 1 }, (_, i) => ({ principal: `user:${i + 1}`, permission: 'read' }));
    expect(fails(() => checkAclList(many)).code).toBe(ErrorCode.ValidationFailed);
  });
});

describe('access policy', () => {
  const grants: AclEntry[] = [
    { principal: 'user:2', permission: 'read' },
    { principal: 'user:2', permission: 'write' },
    { principal: 'group:eng', permission: 'read' },
    { principal: 'group:eng', permission: 'delete' },
    { principal: 'user:4', permission: 'write' },
  ];

  it('gives the owner everything, without grants', () => {
    expect(effectivePermissions('1', [], user('1'))).toEqual({ isOwner: true, permissions: ['read', 'write', 'delete'] });
    expect(decideAccess(asset, [], user('1'), 'owner', 'a1')).toMatchObject({ isOwner: true, ownerId: '1' });
  });

  it('combines user and group grants', () => {
    expect(effectivePermissions('1', grants, user('2')).permissions).toEqual(['read', 'write']);
    expect(effectivePermissions('1', grants, user('3', ['eng'])).permissions).toEqual(['read', 'delete']);
    expect(effectivePermissions('1', grants, user('2', ['eng'])).permissions).toEqual(['read', 'write', 'delete']);
  });

  it('answers 404 without read, so that existence does not leak', () => {
    for (const need of ['read', 'write', 'delete', 'owner'] as const) {
      expect(fails(() => decideAccess(asset, grants, user('9'), need, 'a1')).code).toBe(ErrorCode.AssetNotFound);
    }
    // write without read is still invisible
    expect(fails(() => decideAccess(asset, grants, user('4'), 'write', 'a1')).code).toBe(ErrorCode.AssetNotFound);
    expect(fails(() => decideAccess(null, [], user('1'), 'read', 'a1')).code).toBe(ErrorCode.AssetNotFound);
    expect(fails(() => decideAccess({ ...asset, deleted: true }, [], user('1'), 'read', 'a1')).code).toBe(ErrorCode.AssetNotFound);
  });

  it('answers 403 with read but without the permission asked for', () => {
    const e = fails(() => decideAccess(asset, grants, user('2'), 'delete', 'a1'));
    expect(e.code).toBe(ErrorCode.Forbidden);
    expect(e.message).toMatch(/"delete" permission/);
    expect(fails(() => decideAccess(asset, grants, user('3', ['eng']), 'write', 'a1')).message).toMatch(/"write" permission/);
    expect(fails(() => decideAccess(asset, grants, user('2'), 'owner', 'a1')).message).toMatch(/only its owner/);
    expect(decideAccess(asset, grants, user('2'), 'write', 'a1').permissions).toEqual(['read', 'write']);
  });

  it('lets anonymous callers in through * only, and answers 401 otherwise (existing or not)', () => {
    const pub: AclEntry[] = [{ principal: '*', permission: 'read' }];
    expect(decideAccess(asset, pub, null, 'read', 'a1')).toMatchObject({ principal: null, isOwner: false, permissions: ['read'] });
    expect(fails(() => decideAccess(asset, pub, null, 'write', 'a1')).code).toBe(ErrorCode.Forbidden);
    expect(fails(() => decideAccess(asset, [], null, 'read', 'a1')).code).toBe(ErrorCode.Unauthenticated);
    expect(fails(() => decideAccess(null, [], null, 'read', 'a1')).code).toBe(ErrorCode.Unauthenticated);
    // an authenticated stranger also reads a * asset
    expect(decideAccess(asset, pub, user('9'), 'read', 'a1').permissions).toEqual(['read']);
  });
});
