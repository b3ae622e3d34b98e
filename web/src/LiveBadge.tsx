import type { LiveStatus } from './live.ts';

const LABELS: Record<LiveStatus, string> = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…' };

/** Whether the page's live connection is up: the board's and the dashboard's, beside the navigation. */
export function LiveBadge({ status }: { status: LiveStatus }) {
  return (
    <output className={`live ${status}`} aria-live="polite">
      {LABELS[status]}
    </output>
  );
}
