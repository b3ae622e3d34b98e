import { type KeyboardEvent, useCallback, useEffect, useState } from 'react';
import type { Task, WorkflowStatus } from './api.ts';

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
  readOnly,
}: {
  /** The columns as shown, in the project's status order. */
  columns: { status: WorkflowStatus; tasks: Task[] }[];
  exists: (id: number) => boolean;
  onMove: (task: Task, status: WorkflowStatus) => void;
  onDelete: (task: Task) => void;
  /** Cards are only gone through and opened: neither moved nor deleted. */
  readOnly: boolean;
}) {
  // Each column's tab stop (by state id), which stays rendered wherever its column is scrolled.
  const [active, setActive] = useState<Partial<Record<number, number>>>({});
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
  const focused = useCallback((task: Pick<Task, 'id' | 'state'>) => {
    setActive((current) => (current[task.state] === task.id ? current : { ...current, [task.state]: task.id }));
  }, []);

  const focusTask = useCallback(
    (task: Pick<Task, 'id' | 'state'>) => {
      focused(task);
      setFocusId(task.id);
    },
    [focused],
  );

  /** `rows`: how many cards the column shows at once, for PageUp and PageDown. */
  const onCardKey = (event: KeyboardEvent, task: Task, index: number, rows: number) => {
    const columnIndex = columns.findIndex((column) => column.status.id === task.state);
    const cards = columns[columnIndex]?.tasks ?? [];
    const focusAt = (at: number) => {
      event.preventDefault();
      const target = cards[Math.max(0, Math.min(cards.length - 1, at))];
      if (target !== undefined) focusTask(target);
    };
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.shiftKey && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const target = columns[columnIndex + (event.key === 'ArrowRight' ? 1 : -1)]?.status;
      event.preventDefault();
      if (target === undefined || readOnly) return;
      focusTask({ id: task.id, state: target.id });
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
      const stop = neighbour.tasks.find((each) => each.id === active[neighbour.status.id]);
      focusTask(stop ?? neighbour.tasks[Math.min(index, neighbour.tasks.length - 1)] ?? task);
    } else if (event.key === 'Delete' && !readOnly) {
      event.preventDefault();
      onDelete(task);
    }
  };

  return { active, focused, focusTask, onCardKey };
}
