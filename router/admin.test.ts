import { describe, expect, it } from 'vitest';
import { adminCredentials, checkBasicAuth, isAdminQueuesPath } from './admin.ts';

const basic = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;

describe('the queue dashboard', () => {
  it('is under /admin/queues only', () => {
    expect(isAdminQueuesPath('/admin/queues')).toBe(true);
    expect(isAdminQueuesPath('/admin/queues/api/queues')).toBe(true);
    expect(isAdminQueuesPath('/admin/queuesx')).toBe(false);
    expect(isAdminQueuesPath('/graphql')).toBe(false);
  });

  it('takes HTTP Basic credentials that match exactly', () => {
    expect(checkBasicAuth(basic('ops:s3cret:with:colons'), 'ops', 's3cret:with:colons')).toBe(true);
    expect(checkBasicAuth(basic('ops:wrong'), 'ops', 's3cret')).toBe(false);
    expect(checkBasicAuth(basic('other:s3cret'), 'ops', 's3cret')).toBe(false);
    expect(checkBasicAuth(basic('ops'), 'ops', 's3cret')).toBe(false);
    expect(checkBasicAuth(undefined, 'ops', 's3cret')).toBe(false);
    expect(checkBasicAuth('Bearer abc', 'ops', 's3cret')).toBe(false);
  });

  it('defaults to admin/admin outside production only; production without both variables stays locked', () => {
    expect(adminCredentials({ NODE_ENV: 'development' })).toEqual({ user: 'admin', password: 'admin' });
    expect(adminCredentials({ NODE_ENV: 'test', ADMIN_PASSWORD: 'pw' })).toEqual({ user: 'admin', password: 'pw' });
    expect(adminCredentials({ NODE_ENV: 'production' })).toBeNull();
    expect(adminCredentials({ NODE_ENV: 'production', ADMIN_USER: 'ops' })).toBeNull();
    expect(adminCredentials({ NODE_ENV: 'production', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'long secret' })).toEqual({
      user: 'ops',
      password: 'long secret',
    });
  });
});
