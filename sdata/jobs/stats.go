package jobs

// Running is how many jobs run in this process now (metrics: the job
// queue depth; a job waiting for the store's writer counts as running).
func (rt *Runtime) Running() int {
	rt.running.mu.Lock()
	defer rt.running.mu.Unlock()
	return len(rt.running.done)
}
