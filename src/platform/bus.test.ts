import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DB } from '../../test/helpers.ts';
import { PrivateRedis } from '../../test/production/processes.ts';
import { until } from '../../test/timing.ts';
import { CUT_NOTICED_LATE_MS, RedisBus } from './bus.ts';
import { openRedis } from './redis.ts';

/**
 * Each process publishes a last message and waits until both have received both: what either
 * published before has arrived by then, since Redis delivers a connection's messages in order.
 */
let flushes = 0;
async function flush(...buses: Array<ReturnType<typeof processBus>>) {
  flushes += 1;
  const ends = await Promise.all(
    buses.map(async (each, i) => {
      const end = `end ${flushes}.${i}`;
      await each.bus.publish(end);
      return end;
    }),
  );
  await until(() => buses.every((each) => ends.every((end) => each.received.includes(end))));
  for (const each of buses)
    each.received.splice(0, each.received.length, ...each.received.filter((m) => !ends.includes(m)));
}

/** A bus as a process has it, recording what its subscribers get and what it logs. */
function processBus(url: string) {
  const logged: string[] = [];
  const log = { warn: (_: unknown, m: string) => logged.push(m), info: (m: string) => logged.push(m) };
  const redis = openRedis(url, { warn: () => undefined });
  const bus = new RedisBus(redis, log);
  const received: string[] = [];
  bus.subscribe((m) => received.push(m));
  const resumed: Date[] = [];
  bus.onResumed((since) => resumed.push(since));
  return {
    bus,
    redis,
    log,
    received,
    logged,
    resumed,
    close: async () => {
      await bus.close();
      redis.disconnect();
    },
  };
}

// Redis only; the database project makes no difference, so it runs in one of them.
describe.runIf(TEST_DB === 'postgres')('RedisBus', () => {
  let redis: PrivateRedis;
  let one: ReturnType<typeof processBus>;
  let two: ReturnType<typeof processBus>;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    one = processBus(redis.url);
    two = processBus(redis.url);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await redis?.stop();
  });

  it("delivers a publish to the writer's own subscribers at once, even before its subscription is up", async () => {
    // The connection that publishes is up; the bus's subscription cannot be in place yet when it
    // publishes in the same tick as it was made, as after Redis returns.
    // A connection of its own: another bus on it would get the message again through Redis.
    const connection = openRedis(redis.url, { warn: () => undefined });
    await once(connection, 'ready');
    const bus = new RedisBus(connection, { warn: () => undefined, info: () => undefined });
    const received: string[] = [];
    bus.subscribe((m) => received.push(m));
    await bus.publish('first');
    await bus.close();
    expect(received).toEqual(['first']);
    connection.disconnect();
  });

  it('delivers each message once to every process, its own included', async () => {
    await until(() => {
      void one.bus.publish('probe');
      return two.received.includes('probe');
    });
    // Probes still on their way would count below.
    await flush(one, two);
    one.received.length = 0;
    two.received.length = 0;
    await one.bus.publish('from one');
    await two.bus.publish('from two');
    await flush(one, two);
    expect(one.received.sort()).toEqual(['from one', 'from two']);
    expect(two.received.sort()).toEqual(['from one', 'from two']);
  });

  it('keeps delivering within each process while Redis is away, says so once, and spans processes again when it returns', async () => {
    one.received.length = 0;
    two.received.length = 0;
    one.logged.length = 0;
    const beforeStop = Date.now();
    await redis.stop();
    for (let i = 0; i < 20; i++) await one.bus.publish(`down ${i}`);
    expect(one.received).toEqual(Array.from({ length: 20 }, (_, i) => `down ${i}`));
    expect(two.received).toEqual([]);
    expect(one.logged).toEqual(['redis publish failed: events reach this process only']);

    const restarted = Date.now();
    await redis.start();
    // The moment Redis is back, whatever the state of the connections, a process's own
    // subscribers get its messages, once each.
    let n = 0;
    await until(() => {
      n += 1;
      void one.bus.publish(`back ${n}`);
      return two.received.some((m) => m.startsWith('back '));
    }, 20_000);
    expect(one.received.slice(20)).toEqual(Array.from({ length: n }, (_, i) => `back ${i + 1}`));
    expect(one.logged).toContain('redis publish works again: events reach the other processes');
    // Subscribed once at the start and once after Redis returned, each time told since when
    // nothing came from the other processes: from before the connection's end was noticed, which
    // on a busy machine can be after Redis is already back.
    await until(() => one.resumed.length === 2 && two.resumed.length === 2);
    for (const bus of [one, two]) {
      expect(bus.resumed[1]?.getTime()).toBeGreaterThanOrEqual(beforeStop - CUT_NOTICED_LATE_MS);
      expect(bus.resumed[1]?.getTime()).toBeLessThan(restarted);
    }
  }, 30_000);
});
