"""A run's shared machinery, the same for every modality: the split, class weights, the
manifest and report, the run folder and `latest`, reruns, rollbacks and the ready event."""
