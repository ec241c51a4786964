import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class MinimumSpanningTreeEnv(gymnasium.Env):
    """Find the total weight of a minimum spanning tree of a connected, weighted, undirected graph
    with nodes 0..n-1 (weights may be negative or repeated; a single node gives 0). Observe shows n
    and the edges [u, v, w]; run Kruskal's algorithm with GetEdgeOrder, TryAddEdge and
    GetTreeWeight and submit the total weight as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_EDGE_ORDER = 1
        self.TRY_ADD_EDGE = 2
        self.GET_TREE_WEIGHT = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetEdgeOrder": self.GET_EDGE_ORDER,
            "TryAddEdge": self.TRY_ADD_EDGE,
            "GetTreeWeight": self.GET_TREE_WEIGHT,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "MinimumSpanningTreeEnv@"
        if not env_str.startswith(prefix):
            return None
        return MinimumSpanningTreeEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = options.get("n", 1)
        # edges: [u, v, w] is an undirected edge between u and v of weight w
        self.edges = [list(e) for e in options.get("edges", [])]
        # working forest built by TryAddEdge (union-find over the nodes)
        self.parent = list(range(self.n))
        self.tree_edges = []
        self.tree_weight = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data (Prim's algorithm)."""
        if self.n == 0:
            return 0
        adjacency = [[] for _ in range(self.n)]
        for u, v, w in self.edges:
            adjacency[u].append((v, w))
            adjacency[v].append((u, w))
        in_tree = [False] * self.n
        best = [None] * self.n
        best[0] = 0
        total = 0
        for _ in range(self.n):
            pick = -1
            for v in range(self.n):
                if not in_tree[v] and best[v] is not None and (pick == -1 or best[v] < best[pick]):
                    pick = v
            if pick == -1:
                break
            in_tree[pick] = True
            total += best[pick]
            for v, w in adjacency[pick]:
                if not in_tree[v] and (best[v] is None or w < best[v]):
                    best[v] = w
        return total

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.GET_EDGE_ORDER:
                msg = self.GetEdgeOrder()
            elif action_code == self.TRY_ADD_EDGE:
                if "index" in params:
                    msg = self.TryAddEdge(params["index"])
                else:
                    msg = "Error: 'index' parameter is missing for TryAddEdge action."
            elif action_code == self.GET_TREE_WEIGHT:
                msg = self.GetTreeWeight()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def _root(self, node):
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    # --- tools ---
    def Observe(self):
        r"""
        Return the connected weighted undirected graph: nodes are 0..n-1, edge number i is
        edges[i] = [u, v, w], joining u and v with weight w (weights may be negative or repeated).
        The total weight of a minimum spanning tree is wanted.

        Returns:
            str: JSON object with keys "n" and "edges".

        Example Output:
            "{\"n\": 3, \"edges\": [[0, 1, 4], [1, 2, 2], [0, 2, 3]]}"
        """
        return json.dumps({"n": self.n, "edges": self.edges})

    def GetEdgeOrder(self):
        r"""
        Return the edge indices sorted by weight (ties broken by index), the order in which
        Kruskal's algorithm considers them.

        Returns:
            str: JSON list of edge indices.

        Example Output:
            "[1, 2, 0]"
        """
        order = sorted(range(len(self.edges)), key=lambda i: (self.edges[i][2], i))
        return json.dumps(order)

    def TryAddEdge(self, index):
        r"""
        Add edge number `index` to the forest being built if its two ends are still in
        different trees of the forest; otherwise it would close a cycle and is skipped.

        Args:
            index (int): edge index, 0..len(edges)-1.

        Returns:
            str: JSON object with "added" (bool), "tree_edges" (edges in the forest so far)
            and "tree_weight" (their total weight).

        Example Output:
            "{\"added\": true, \"tree_edges\": 2, \"tree_weight\": 5}"
        """
        index = _require_int(index, "index")
        if index < 0 or index >= len(self.edges):
            if not self.edges:
                raise ValueError("the graph has no edges")
            raise ValueError(f"edge index {index} out of range 0..{len(self.edges) - 1}")
        u, v, w = self.edges[index]
        ru, rv = self._root(u), self._root(v)
        added = ru != rv
        if added:
            self.parent[max(ru, rv)] = min(ru, rv)
            self.tree_edges.append(index)
            self.tree_weight += w
        return json.dumps({"added": added, "tree_edges": len(self.tree_edges), "tree_weight": self.tree_weight})

    def GetTreeWeight(self):
        r"""
        Return the total weight of the edges added to the forest so far.

        Returns:
            str: the weight as an integer.

        Example Output:
            "5"
        """
        return str(self.tree_weight)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the total weight of a minimum spanning tree.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 5, reference answer: 5, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        graph = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = graph["n"]
        order = json.loads(self.step(json.dumps({"name": "GetEdgeOrder", "parameters": {}}))[1])
        tree_edges = 0
        for index in order:
            if tree_edges >= n - 1:
                break
            result = json.loads(self.step(json.dumps({"name": "TryAddEdge", "parameters": {"index": index}}))[1])
            tree_edges = result["tree_edges"]
        weight = int(self.step(json.dumps({"name": "GetTreeWeight", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": weight}}))[1]


if __name__ == "__main__":
    env = MinimumSpanningTreeEnv.from_env_str(
        'MinimumSpanningTreeEnv@{"n": 3, "edges": [[0, 1, 4], [1, 2, 2], [0, 2, 3]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = MinimumSpanningTreeEnv.from_env_str('MinimumSpanningTreeEnv@{"n": 1, "edges": []}')
    print(env.solve())
    print("step count:", env.step_count)
