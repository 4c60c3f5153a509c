/** The kmod backend's checks in the guest (filled in with the backend). */
export async function runBackendChecks(_dax: string): Promise<void> {}
