/// Every workflow implementation this build can run, by `name`. The worker (`tesserad work`) looks a job's
/// workflow up here; each must have a spec of the same name in `workflows/`.
public enum WorkflowRegistry {
    public static let all: [any WorkflowImplementation.Type] = [PretrainWorkflow.self, EmbedWorkflow.self, ImputeWorkflow.self, ClusterSupConWorkflow.self, AnnotateWorkflow.self]
}
