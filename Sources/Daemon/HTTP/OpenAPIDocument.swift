import Foundation

/// The machine-readable description of the API (OpenAPI 3.1), served at `GET /api/openapi.json`. Built from
/// the list of operations below; a test checks it names exactly the routes `APIRoutes` registers.
public enum OpenAPIDocument {
    struct Operation {
        var method: String, path: String, summary: String
        var query: [(String, [String: Any], String)] = []   // name, schema, description
        var body: String? = nil                        // schema name
        var response: [String: Any]                    // success schema
        var status = "200"
        var contentType = "application/json"
        /// Other success answers: status → (description, schema).
        var also: [String: (String, [String: Any])] = [:]
    }

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func array(_ name: String) -> [String: Any] { ["type": "array", "items": ref(name)] }
    static var object: [String: Any] { ["type": "object"] }

    static var operations: [Operation] { [
        Operation(method: "GET", path: "/api/health", summary: "Daemon status: version, data root, queued and running jobs, workflows", response: ref("Health")),
        Operation(method: "GET", path: "/api/openapi.json", summary: "This document", response: object),
        Operation(method: "GET", path: "/api/workflows", summary: "The workflow catalogue (specs with typed parameters)", response: ["type": "array", "items": object]),
        Operation(method: "GET", path: "/api/workflows/{name}", summary: "One workflow spec", response: object),
        Operation(method: "GET", path: "/api/projects", summary: "All projects", response: array("Project")),
        Operation(method: "POST", path: "/api/projects", summary: "Create a project", body: "NewProject", response: ref("Project"), status: "201"),
        Operation(method: "GET", path: "/api/projects/{project}", summary: "A project by id or name", response: ref("Project")),
        Operation(method: "GET", path: "/api/projects/{project}/datasets", summary: "Datasets registered in a project", response: array("Dataset")),
        Operation(method: "POST", path: "/api/projects/{project}/datasets", summary: "Register a dataset file (read, hashed, summarised)", body: "NewDataset", response: ref("Dataset"), status: "201"),
        Operation(method: "GET", path: "/api/projects/{project}/history", summary: "Everything that happened in a project, oldest first",
                  query: [("workflow", nonEmpty, "only jobs of this workflow"), ("state", state, "only transitions into this state"),
                          ("dataset", nonEmpty, "only jobs that used this dataset (id or name)"), ("since", isoDate, "ISO 8601 date or time"),
                          ("until", isoDate, "ISO 8601 date or time")], response: array("HistoryEntry")),
        Operation(method: "GET", path: "/api/projects/{project}/notes", summary: "Notes of a project", response: array("Note")),
        Operation(method: "POST", path: "/api/projects/{project}/notes", summary: "Add a free-text note", body: "NewNote", response: ref("Note"), status: "201"),
        Operation(method: "GET", path: "/api/jobs", summary: "Jobs, newest first",
                  query: [("project", nonEmpty, "project id or name"), ("state", state, "queued, running, retrying, succeeded, failed, cancelled"),
                          ("workflow", nonEmpty, "workflow name"), ("limit", ["type": "integer", "minimum": 1, "maximum": 100_000], "page size (default 100)"),
                          ("offset", ["type": "integer", "minimum": 0], "page start")],
                  response: ref("JobPage")),
        Operation(method: "POST", path: "/api/jobs", summary: "Submit a workflow run (validated before it is queued; `reuse` answers from cache)", body: "Submission", response: ref("Submitted"), status: "201",
                  also: ["200": ("reused: answered from a succeeded job with the same cache key", ref("Submitted"))]),
        Operation(method: "GET", path: "/api/jobs/{job}", summary: "A job (id or unique prefix) with its last progress and full state history", response: ref("Job")),
        Operation(method: "POST", path: "/api/jobs/{job}/cancel", summary: "Cancel a queued or running job (SIGTERM to its worker, which checkpoints)", response: ref("Job")),
        Operation(method: "GET", path: "/api/jobs/{job}/events", summary: "Worker events after a byte offset; long-polls up to `wait` seconds",
                  query: [("after", ["type": "integer", "minimum": 0], "byte offset from the last page's `next`"),
                          ("wait", ["type": "number", "minimum": 0, "maximum": 60], "seconds to wait for new events")],
                  response: ref("EventPage")),
        Operation(method: "GET", path: "/api/jobs/{job}/events/stream", summary: "Worker events and state changes as Server-Sent Events (text/event-stream)",
                  query: [("after", ["type": "integer", "minimum": 0], "byte offset to start from (or the Last-Event-ID header)")], response: ["type": "string"],
                  contentType: "text/event-stream"),
        Operation(method: "GET", path: "/api/jobs/{job}/metrics", summary: "Metric time series", query: [("name", nonEmpty, "one metric")], response: array("Metric")),
        Operation(method: "GET", path: "/api/jobs/{job}/artifacts", summary: "Files the job produced", response: array("Artifact")),
        Operation(method: "GET", path: "/api/jobs/{job}/artifacts/{artifact}", summary: "Download an artifact", response: ["type": "string", "format": "binary"],
                  contentType: "application/octet-stream"),
        Operation(method: "GET", path: "/api/jobs/{job}/log", summary: "The worker's log (last MiB)", response: ["type": "string"], contentType: "text/plain"),
    ] }

    static func props(_ p: [String: Any], required: [String] = []) -> [String: Any] {
        ["type": "object", "properties": p, "required": required]
    }
    static var str: [String: Any] { ["type": "string"] }
    static var int: [String: Any] { ["type": "integer"] }
    static var num: [String: Any] { ["type": "number"] }
    static var date: [String: Any] { ["type": "string", "format": "date-time"] }
    static var bool: [String: Any] { ["type": "boolean"] }
    static var nonEmpty: [String: Any] { ["type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"] }
    static var state: [String: Any] { ["type": "string", "enum": ["queued", "running", "retrying", "succeeded", "failed", "cancelled"]] }
    static var isoDate: [String: Any] { ["type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"] }
    static var absolutePath: [String: Any] { ["type": "string", "pattern": "^/", "maxLength": 4096] }
    /// A request body: the listed fields and no others (the daemon ignores unknown ones, but documents none).
    static func body(_ p: [String: Any], required: [String]) -> [String: Any] {
        ["type": "object", "properties": p, "required": required, "additionalProperties": false]
    }

    static var schemas: [String: Any] { [
        "Error": props(["error": props(["code": str, "message": str], required: ["code", "message"])], required: ["error"]),
        "Health": props(["service": str, "version": str, "root": str, "queued": int, "running": int, "workflows": ["type": "array", "items": str]]),
        "Project": props(["id": str, "name": str, "description": str, "createdAt": date], required: ["id", "name"]),
        "NewProject": body(["name": nonEmpty, "description": str], required: ["name"]),
        "Dataset": props(["id": str, "project": str, "name": str, "path": str, "contentHash": str, "cells": int, "genes": int,
                          "summary": object, "registeredAt": date,
                          "sameContentAs": ["type": "array", "items": str, "description": "registration only: datasets of the project with the same content"],
                          "warnings": ["type": "array", "items": str, "description": "registration only"]]),
        "NewDataset": body(["path": absolutePath.merging(["description": "absolute path on the daemon's machine"]) { $1 }, "name": nonEmpty,
                            "locations": absolutePath.merging(["description": "counts tables: a file of cell positions"]) { $1 },
                            "metadata": absolutePath.merging(["description": "counts tables: a file of per-cell annotations"]) { $1 },
                            "orientation": ["type": "string", "enum": ["cells-x-genes", "genes-x-cells"]]], required: ["path"]),
        "Submission": body(["project": nonEmpty, "workflow": nonEmpty, "version": str, "parameters": object,
                            "inputs": ["type": "object", "additionalProperties": str, "description": "role → dataset id or name"],
                            "priority": ["type": "integer", "minimum": -1_000_000, "maximum": 1_000_000], "reuse": bool,
                            "executor": ["type": "string", "enum": ["local", "slurm"], "description": "where to run it (default: the daemon's executor); slurm needs a \"slurm\" section in tesserad.json"],
                            "resources": body(["cpus": ["type": "integer", "minimum": 1, "maximum": 4096],
                                               "memoryMB": ["type": "integer", "minimum": 1, "maximum": 16_777_216],
                                               "timeLimitMinutes": ["type": "integer", "minimum": 1, "maximum": 527_040],
                                               "partition": ["type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"],
                                               "account": ["type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"],
                                               "arrayTasks": ["type": "integer", "minimum": 1, "maximum": 1000, "description": "embed on slurm: a job array of this many tasks over the FOVs, then a gather job"]], required: [])],
                           required: ["project", "workflow"]),
        "Progress": props(["phase": str, "step": int, "total": int, "epoch": int, "values": ["type": "object", "additionalProperties": num], "at": date]),
        "Transition": props(["from": str, "to": str, "reason": str, "at": date]),
        "Job": props(["id": str, "project": str, "workflow": str, "version": str, "parameters": object,
                      "inputs": ["type": "object", "additionalProperties": str],
                      "state": ["type": "string", "enum": ["queued", "running", "retrying", "succeeded", "failed", "cancelled"]],
                      "priority": int, "attempts": int, "maxAttempts": int, "exitReason": str, "createdAt": date, "startedAt": date,
                      "finishedAt": date, "progress": ref("Progress"), "transitions": array("Transition"),
                      "executor": str, "externalId": str, "executorStates": array("ExecutorState")]),
        "ExecutorState": props(["state": str, "reason": str, "externalId": str, "at": date]),
        "Submitted": props(["job": ref("Job"), "reused": bool]),
        "JobPage": props(["jobs": array("Job"), "total": int, "limit": int, "offset": int]),
        "Event": props(["kind": ["type": "string", "enum": ["started", "progress", "metric", "artifact", "checkpoint", "message", "finished"]],
                        "at": date, "phase": str, "step": int, "total": int, "epoch": int,
                        "values": ["type": "object", "additionalProperties": num], "path": str, "text": str]),
        "EventPage": props(["events": array("Event"), "next": int, "state": str, "terminal": bool]),
        "Metric": props(["step": int, "name": str, "value": num, "at": date]),
        "Artifact": props(["id": str, "kind": str, "path": str, "hash": str, "size": int, "createdAt": date, "url": str]),
        "HistoryEntry": props(["at": date, "kind": str, "subject": str, "workflow": str, "state": str, "text": str]),
        "Note": props(["id": int, "text": str, "createdAt": date]),
        "NewNote": body(["text": ["type": "string", "minLength": 1]], required: ["text"]),
    ] }

    static func document() -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for op in operations + mapOperations {
            var params: [[String: Any]] = []
            for name in op.path.split(separator: "/").filter({ $0.hasPrefix("{") }).map({ String($0.dropFirst().dropLast()) }) {
                params.append(["name": name, "in": "path", "required": true, "schema": str])
            }
            for (n, schema, d) in op.query { params.append(["name": n, "in": "query", "required": false, "schema": schema, "description": d]) }
            let error: [String: Any] = ["description": "error", "content": ["application/json": ["schema": ref("Error")]]]
            var responses: [String: Any] = [op.status: ["description": "success", "content": [op.contentType: ["schema": op.response]]],
                                            "4XX": error, "5XX": error]
            for (status, (description, schema)) in op.also { responses[status] = ["description": description, "content": [op.contentType: ["schema": schema]]] }
            var o: [String: Any] = ["summary": op.summary, "parameters": params, "responses": responses]
            if let b = op.body { o["requestBody"] = ["required": true, "content": ["application/json": ["schema": ref(b)]]] }
            paths[op.path, default: [:]][op.method.lowercased()] = o
        }
        return [
            "openapi": "3.1.0",
            "info": ["title": "tesserad", "version": TesseraVersion.string,
                     "description": "Tessera's daemon: projects, datasets, workflow jobs and their history. With a token configured, send `Authorization: Bearer TOKEN`."],
            "servers": [["url": "http://127.0.0.1:7878"]],
            "components": ["schemas": schemas, "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]]],
            "security": [["bearer": [String]()], [String: Any]()],
            "paths": paths,
        ]
    }

    /// The document as JSON text (sorted keys, built once).
    public static let json: String = {
        let data = (try? JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }()
}
