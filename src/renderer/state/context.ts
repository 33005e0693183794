import { createContext, useContext } from 'react';
import type { ProjectState } from './useEngine';

export const ProjectContext = createContext<ProjectState | null>(null);

export function useProject(): ProjectState {
  const s = useContext(ProjectContext);
  if (!s) throw new Error('useProject outside ProjectContext');
  return s;
}
