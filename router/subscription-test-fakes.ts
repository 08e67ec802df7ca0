import WebSocket from 'ws';
import type { Connection } from './subscription-connections.ts';
import type { Subscriber } from './subscription-delivery.ts';

/** A socket that records how it was closed; for the subscription units' tests. */
export function fakeSocket() {
  const closes: { code: number | undefined; reason: string | undefined }[] = [];
  const socket = {
    readyState: WebSocket.OPEN as number,
    bufferedAmount: 0,
    send: () => undefined,
    close: (code?: number, reason?: string) => void closes.push({ code, reason }),
  };
  return { socket: socket as unknown as Connection['socket'], closes };
}

/** A subscriber of `organizationId` on `connection`, added to its subscribers. */
export function fakeSubscriber(connection: Connection, organizationId: string, reachesUser = false): Subscriber {
  const subscriber: Subscriber = {
    identity: connection.identity,
    messagePrefix: '',
    socket: connection.socket,
    raw: { cork: () => undefined, uncork: () => undefined } as unknown as Subscriber['raw'],
    prepared: { organizationId, query: '{ x }', responseKey: 'usageUpdated' },
    reachesUser,
    groupKey: '',
  };
  connection.subscribers.add(subscriber);
  return subscriber;
}
