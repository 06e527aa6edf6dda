import { ApiKey } from './api-key.entity';
import { principalOfKey } from './api-key-lookup';

const row = (scopes: ApiKey['scopes'], creatorRoles: string[]): ApiKey => ({
  id: 'a2b5c7d1-0000-4000-8000-000000000001',
  keyHash: '0'.repeat(64),
  prefix: 'msk_abcdefgh',
  name: 'k',
  scopes,
  creatorId: '42',
  creatorGroups: ['crew'],
  creatorRoles,
  createdAt: new Date(),
  expiresAt: null,
  lastUsedAt: null,
  revokedAt: null,
});

describe('principalOfKey', () => {
  it('acts as the creator, an admin only with the admin scope and an admin creator', () => {
    expect(principalOfKey(row(['read'], ['admin', 'editor']))).toEqual({
      userId: '42',
      groups: ['crew'],
      roles: ['editor'],
      isAdmin: false,
      apiKey: { id: 'a2b5c7d1-0000-4000-8000-000000000001', scopes: ['read'] },
    });
    expect(principalOfKey(row(['read', 'admin'], ['admin']))).toMatchObject({ roles: ['admin'], isAdmin: true });
    expect(principalOfKey(row(['admin'], []))).toMatchObject({ roles: [], isAdmin: false });
  });
});
