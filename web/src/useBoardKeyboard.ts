import { type KeyboardEvent, useCallback, useEffect, useState } from 'react';
import { STATUSES, type Status, type Task } from './api.ts';

/**
 * The board's keyboard: each column is one Tab stop (a roving tabindex), arrows and Home/End/Page
 * keys go through a column and across to the next, Shift+←/→ moves a card, Delete asks to delete it.
 * A card to focus may be far down a column and not rendered yet: it becomes its column's tab stop
 * first (which renders it), then takes focus.
 */
export function useBoardKeyboard({
  columns,
  exists,
  onMove,
  onDelete,
}: {
  /** The columns as shown, in STATUSES order. */
  columns: { status: Status; tasks: Task[] }[];
  exists: (id: number) => boolean;
  onMove: (task: Task, status: Status) => void;
  onDelete: (task: Task) => void;
}) {
  // Each column's tab stop, which stays rendered wherever its column is scrolled.
  const [active, setActive] = useState<Partial<Record<Status, number>>>({});
  const [focusId, setFocusId] = useState<number | undefined>();

  useEffect(() => {
    if (focusId === undefined) return;
    const target = document.querySelector<HTMLElement>(`[data-task-id="${focusId}"] .card-title`);
    // not rendered yet (it becomes its column's tab stop, rendered with the next render), or gone
    if (target === null && exists(focusId)) return;
    target?.focus();
    setFocusId(undefined);
  });

  /** A card took focus (by Tab, click or script): it is its column's tab stop from now on. */
  const focused = useCallback((task: Pick<Task, 'id' | 'status'>) => {
    setActive((current) => (current[task.status] === task.id ? current : { ...current, [task.status]: task.id }));
  }, []);

  const focusTask = useCallback(
    (task: Pick<Task, 'id' | 'status'>) => {
      focused(task);
      setFocusId(task.id);
    },
    [focused],
  );

  /** `rows`: how many cards the column shows at once, for PageUp and PageDown. */
  const onCardKey = (event: KeyboardEvent, task: Task, index: number, rows: number) => {
    const columnIndex = STATUSES.indexOf(task.status);
    const cards = columns[columnIndex]?.tasks ?? [];
    const focusAt = (at: number) => {
      event.preventDefault();
      const target = cards[Math.max(0, Math.min(cards.length - 1, at))];
      if (target !== undefined) focusTask(target);
    };
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.shiftKey && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const target = STATUSES[columnIndex + (event.key === 'ArrowRight' ? 1 : -1)];
      event.preventDefault();
      if (target === undefined) return;
      focusTask({ id: task.id, status: target });
      onMove(task, target);
    } else if (event.shiftKey) {
      return;
    } else if (event.key === 'ArrowDown') focusAt(index + 1);
    else if (event.key === 'ArrowUp') focusAt(index - 1);
    else if (event.key === 'PageDown') focusAt(index + rows);
    else if (event.key === 'PageUp') focusAt(index - rows);
    else if (event.key === 'Home') focusAt(0);
    else if (event.key === 'End') focusAt(cards.length - 1);
    else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      // To the neighbouring column's tab stop, or the card at the same height there.
      const neighbour = columns[columnIndex + (event.key === 'ArrowRight' ? 1 : -1)];
      event.preventDefault();
      if (neighbour === undefined || neighbour.tasks.length === 0) return;
      const stop = neighbour.tasks.find((each) => each.id === active[neighbour.status]);
      focusTask(stop ?? neighbour.tasks[Math.min(index, neighbour.tasks.length - 1)] ?? task);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      onDelete(task);
    }
  };

  return { active, focused, focusTask, onCardKey };
}
