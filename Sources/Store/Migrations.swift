import GRDB

/// The schema, as named migrations that are only ever appended to (never edited once landed).
public enum StoreMigrations {
    public static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: projects, datasets, jobs, transitions, metrics, artifacts, notes") { db in
            try db.create(table: "project") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("description", .text).notNull().defaults(to: "")
                t.column("createdAt", .double).notNull()
            }
            try db.create(table: "dataset") { t in
                t.primaryKey("id", .text)
                t.belongsTo("project", onDelete: .cascade).notNull()
                t.column("name", .text).notNull()
                t.column("path", .text).notNull()
                t.column("contentHash", .text).notNull()
                t.column("cells", .integer).notNull()
                t.column("genes", .integer).notNull()
                t.column("summary", .text).notNull()
                t.column("registeredAt", .double).notNull()
                t.uniqueKey(["projectId", "name"])
            }
            try db.create(table: "job") { t in
                t.primaryKey("id", .text)
                t.belongsTo("project", onDelete: .cascade).notNull()
                t.column("workflow", .text).notNull().indexed()
                t.column("workflowVersion", .text).notNull()
                t.column("parameters", .text).notNull()
                t.column("inputs", .text).notNull()
                t.column("state", .text).notNull().indexed()
                t.column("priority", .integer).notNull().defaults(to: 0)
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("maxAttempts", .integer).notNull().defaults(to: 1)
                t.column("executor", .text).notNull()
                t.column("externalId", .text)
                t.column("exitReason", .text)
                t.column("cacheKey", .text).notNull().indexed()
                t.column("createdAt", .double).notNull().indexed()
                t.column("startedAt", .double)
                t.column("finishedAt", .double)
                t.column("updatedAt", .double).notNull()
            }
            // Inputs by role, so history can be filtered by dataset.
            try db.create(table: "job_input") { t in
                t.belongsTo("job", onDelete: .cascade).notNull()
                t.column("role", .text).notNull()
                t.belongsTo("dataset").notNull()
                t.primaryKey(["jobId", "role"])
            }
            try db.create(table: "job_transition") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("job", onDelete: .cascade).notNull()
                t.column("fromState", .text)
                t.column("toState", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(table: "metric") { t in
                t.belongsTo("job", onDelete: .cascade).notNull()
                t.column("step", .integer).notNull()
                t.column("name", .text).notNull()
                t.column("value", .double).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(index: "metric_job_name_step", on: "metric", columns: ["jobId", "name", "step"])
            try db.create(table: "artifact") { t in
                t.primaryKey("id", .text)
                t.belongsTo("job", onDelete: .cascade).notNull()
                t.column("kind", .text).notNull()
                t.column("path", .text).notNull()
                t.column("hash", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("createdAt", .double).notNull()
            }
            try db.create(table: "note") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("project", onDelete: .cascade).notNull()
                t.column("text", .text).notNull()
                t.column("createdAt", .double).notNull()
            }
        }
        // Where the daemon stopped reading each job's events.jsonl, committed with the metrics and artifacts
        // read up to it: a restarted daemon neither loses nor repeats a point.
        m.registerMigration("v2: job events offset, one artifact row per path") { db in
            try db.alter(table: "job") { t in t.add(column: "eventsOffset", .integer).notNull().defaults(to: 0) }
            try db.create(index: "artifact_job_path", on: "artifact", columns: ["jobId", "path"], unique: true)
        }
        // Every state an executor reported for a job (Slurm's PENDING with its reason, RUNNING, TIMEOUT…), and
        // the resources a submission asked for (cpus, memory, time limit, partition, account).
        m.registerMigration("v3: executor states, job resources") { db in
            try db.create(table: "job_executor_state") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("job", onDelete: .cascade).notNull()
                t.column("externalId", .text)
                t.column("state", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(table: "job_resources") { t in
                t.primaryKey("jobId", .text).references("job", onDelete: .cascade)
                t.column("json", .text).notNull()
            }
        }
        return m
    }
}
