/** Small line icons in the text's colour; decorative (the text beside them, or a label, says what they mean). */
function Icon({ path }: { path: string }) {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false">
      <path d={path} fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

export const BellIcon = () => <Icon path="M4 11V7a4 4 0 0 1 8 0v4l1.5 1.5h-11L4 11ZM6.5 14a1.5 1.5 0 0 0 3 0" />;
export const CommentIcon = () => <Icon path="M2.5 3.5h11v7h-6l-3 2.5v-2.5h-2Z" />;
export const PaperclipIcon = () => (
  <Icon path="M10.5 4.5 5.8 9.2a1.2 1.2 0 0 0 1.7 1.7l5-5a2.6 2.6 0 0 0-3.7-3.7l-5 5a4 4 0 0 0 5.7 5.7l4.2-4.2" />
);
