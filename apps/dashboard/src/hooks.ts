import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { UsageUpdatedDocument } from '@mindweave/sdk';
import { client, connection } from './api.ts';
import { describeError, type Attempt, type Problem } from './errors.ts';
import type { LiveEvent } from './series.ts';

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | undefined;
  loading: boolean;
  reload: () => void;
  /** Replaces the data in place (a live event, an item just created). */
  update: (change: (data: T) => T) => void;
}

/** Runs `load` whenever `deps` change (and on reload), keeping only the answer to the latest run. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], attempt?: Attempt): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; problem: Problem | undefined; loading: boolean }>({
    data: undefined,
    problem: undefined,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const run = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what `load` depends on (`deps`), and `generation` is a reload.
  useEffect(() => {
    const id = ++run.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => id === run.current && setState({ data, problem: undefined, loading: false }),
      (error: unknown) => id === run.current && setState((s) => ({ data: s.data, problem: describeError(error, attempt), loading: false })),
    );
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const update = useCallback((change: (data: T) => T) => setState((s) => (s.data === undefined ? s : { ...s, data: change(s.data) })), []);
  return { ...state, reload, update };
}

/** Runs an action (a mutation) with its pending state and its problem, if it fails. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>, attempt?: Attempt) {
  const [pending, setPending] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: only the attempt's role changes what an error says; callers pass a new object each render.
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setPending(true);
      setProblem(undefined);
      try {
        return await action(...args);
      } catch (error) {
        setProblem(describeError(error, attempt));
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [action, attempt?.role],
  );
  return { run, pending, problem, clear: () => setProblem(undefined) };
}

export const useConnection = () => useSyncExternalStore(connection.subscribe, connection.get);

/**
 * `usageUpdated` for an organization, for as long as the component is mounted. The SDK reconnects
 * a dropped connection a few times; past that, or after an error the router sent, this subscribes
 * again with a growing delay, except when the answer is that the user may not see it.
 */
export function useLiveUsage(organizationId: string | undefined, onEvent: (event: LiveEvent) => void): Problem | undefined {
  const [problem, setProblem] = useState<Problem>();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (!organizationId) return undefined;
    let stopped = false;
    let unsubscribe: () => void = () => undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = (failures: number) => {
      unsubscribe = client.subscribe(
        UsageUpdatedDocument,
        { organizationId },
        (data) => {
          setProblem(undefined);
          handler.current(data.usageUpdated);
        },
        (error) => {
          if (stopped) return;
          const described = describeError(error, { action: 'watch this organization’s usage' });
          setProblem(described);
          if ((error as { code?: string }).code === 'FORBIDDEN') return;
          const delay = (described.retryAfterSeconds ?? Math.min(30, 2 ** failures)) * 1000;
          timer = setTimeout(() => start(failures + 1), delay);
        },
      );
    };
    start(0);
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    };
  }, [organizationId]);
  return problem;
}

export interface Page<T> {
  items: T[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null | undefined };
}

/** A cursor-paginated list (Relay style): the first page when `deps` change, then more on demand. */
export function usePages<T>(loadPage: (after: string | null) => Promise<Page<T>>, deps: readonly unknown[], attempt?: Attempt) {
  const first = useLoad(() => loadPage(null), deps, attempt);
  const [more, setMore] = useState<{ items: T[]; cursor: string | null; hasMore: boolean } | undefined>();
  const next = useAction(async () => {
    const cursor = more ? more.cursor : (first.data?.pageInfo.endCursor ?? null);
    const page = await loadPage(cursor);
    setMore((m) => ({
      items: [...(m?.items ?? []), ...page.items],
      cursor: page.pageInfo.endCursor ?? null,
      hasMore: page.pageInfo.hasNextPage,
    }));
  }, attempt);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new first page drops the pages loaded after the old one.
  useEffect(() => setMore(undefined), [first.data]);
  return {
    items: first.data ? [...first.data.items, ...(more?.items ?? [])] : undefined,
    loading: first.loading,
    problem: first.problem ?? next.problem,
    hasMore: more ? more.hasMore : !!first.data?.pageInfo.hasNextPage,
    loadingMore: next.pending,
    loadMore: () => void next.run(),
    reload: first.reload,
  };
}
