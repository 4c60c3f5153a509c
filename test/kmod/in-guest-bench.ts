/** The kmod-vs-linux benchmark in the guest (filled in later). */
export async function runBenchmark(_dax: string): Promise<void> {}
