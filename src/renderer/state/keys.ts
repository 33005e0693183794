import type { ClassDef } from '../../shared/domain';

/** Minimal view of a KeyboardEvent so the rules can be tested without a DOM. */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

/** Keys typed into a text field belong to the field, never to the labeling shortcuts. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== 'string') return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  if (el.tagName !== 'INPUT') return false;
  const type = (el as HTMLInputElement).type;
  return !['checkbox', 'radio', 'range', 'button', 'submit', 'color'].includes(type);
}

const primary = (e: KeyPress) => e.ctrlKey || e.metaKey;

export function isUndo(e: KeyPress): boolean {
  return primary(e) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'z';
}

export function isRedo(e: KeyPress): boolean {
  if (!primary(e) || e.altKey) return false;
  const k = e.key.toLowerCase();
  return (k === 'z' && e.shiftKey) || (k === 'y' && !e.shiftKey);
}

/** The class whose hotkey this press is; modifiers (other than shift on letters) mean a shortcut, not a label. */
export function classForKey(classes: readonly ClassDef[], e: KeyPress): ClassDef | null {
  if (primary(e) || e.altKey || e.key.length !== 1) return null;
  const k = e.key.toUpperCase();
  return classes.find((c) => c.hotkey != null && c.hotkey.toUpperCase() === k) ?? null;
}

/** Label for a hotkey chip: the digit or letter as printed on the keyboard. */
export function hotkeyLabel(hotkey: string | null): string {
  return hotkey ? hotkey.toUpperCase() : '';
}
