/**
 * What the projects (and labels) features announce once their writes have committed; realtime
 * implements it, as it implements tasks' TaskWriteListener.
 */
export interface ProjectEvents {
  /** An event about a project or its statuses, for the users who see the project. */
  projectEvent(companyId: number, projectId: number, event: object): Promise<void>;
  /** An event for everyone in the company (labels). */
  companyEvent(companyId: number, event: object): Promise<void>;
  /** Who sees which project changed: for one user, or (no user) for anyone in the company. */
  visibilityChanged(companyId: number, userId?: number): Promise<void>;
}

export const NO_EVENTS: ProjectEvents = {
  projectEvent: async () => {},
  companyEvent: async () => {},
  visibilityChanged: async () => {},
};
