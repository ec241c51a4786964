import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class ConnectedComponentsEnv(gymnasium.Env):
    """Count the connected components of an undirected graph with nodes 0..n-1 and the given edges;
    each isolated node is a component of its own, self-loops and repeated edges change nothing, and
    n = 0 gives 0. Observe shows n and the edges; merge nodes with the union-find tools Find and
    Union (GetMergeCount counts successful merges) and submit the number of components as an
    integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.FIND = 1
        self.UNION = 2
        self.GET_MERGE_COUNT = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "Find": self.FIND,
            "Union": self.UNION,
            "GetMergeCount": self.GET_MERGE_COUNT,
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
        prefix = "ConnectedComponentsEnv@"
        if not env_str.startswith(prefix):
            return None
        return ConnectedComponentsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = options.get("n", 0)
        self.edges = [list(e) for e in options.get("edges", [])]
        # union-find forest over the nodes 0..n-1, changed by Find / Union
        self.parent = list(range(self.n))
        self.size = [1] * self.n
        self.merges = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        adjacency = [[] for _ in range(self.n)]
        for u, v in self.edges:
            adjacency[u].append(v)
            adjacency[v].append(u)
        seen = [False] * self.n
        components = 0
        for start in range(self.n):
            if seen[start]:
                continue
            components += 1
            seen[start] = True
            stack = [start]
            while stack:
                u = stack.pop()
                for v in adjacency[u]:
                    if not seen[v]:
                        seen[v] = True
                        stack.append(v)
        return components

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
            elif action_code == self.FIND:
                if "node" in params:
                    msg = self.Find(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for Find action."
            elif action_code == self.UNION:
                if "u" in params and "v" in params:
                    msg = self.Union(params["u"], params["v"])
                else:
                    msg = "Error: 'u' or 'v' parameter is missing for Union action."
            elif action_code == self.GET_MERGE_COUNT:
                msg = self.GetMergeCount()
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

    def _check_node(self, node, name="node"):
        node = _require_int(node, name)
        if node < 0 or node >= self.n:
            if self.n == 0:
                raise ValueError("the graph has no nodes")
            raise ValueError(f"{name} {node} out of range 0..{self.n - 1}")
        return node

    def _root(self, node):
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        # path compression
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    # --- tools ---
    def Observe(self):
        r"""
        Return the undirected graph: nodes are 0..n-1, an edge [u, v] connects u and v.
        The number of connected components is wanted.

        Returns:
            str: JSON object with keys "n" and "edges".

        Example Output:
            "{\"n\": 5, \"edges\": [[0, 1], [1, 2], [3, 4]]}"
        """
        return json.dumps({"n": self.n, "edges": self.edges})

    def Find(self, node):
        r"""
        Return the representative (root) of the union-find set that currently contains a node.
        Two nodes are in the same set exactly when they have the same root. Initially every
        node is its own root.

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: the root node as an integer.

        Example Output:
            "0"
        """
        node = self._check_node(node)
        return str(self._root(node))

    def Union(self, u, v):
        r"""
        Merge the union-find sets containing u and v (union by size). Nothing changes when
        they are already in the same set.

        Args:
            u (int): first node, 0..n-1.
            v (int): second node, 0..n-1.

        Returns:
            str: JSON object with "merged" (true if two different sets were joined) and
            "root" (the root of the resulting set).

        Example Output:
            "{\"merged\": true, \"root\": 0}"
        """
        u = self._check_node(u, "u")
        v = self._check_node(v, "v")
        ru, rv = self._root(u), self._root(v)
        if ru == rv:
            return json.dumps({"merged": False, "root": ru})
        if self.size[ru] < self.size[rv] or (self.size[ru] == self.size[rv] and rv < ru):
            ru, rv = rv, ru
        self.parent[rv] = ru
        self.size[ru] += self.size[rv]
        self.merges += 1
        return json.dumps({"merged": True, "root": ru})

    def GetMergeCount(self):
        r"""
        Return how many successful merges Union has performed so far.

        Returns:
            str: the number of merges as an integer.

        Example Output:
            "3"
        """
        return str(self.merges)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of connected components of the graph.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 2, reference answer: 2, result: correct, reward=1"
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
        for u, v in graph["edges"]:
            self.step(json.dumps({"name": "Union", "parameters": {"u": u, "v": v}}))
        roots = set()
        for node in range(n):
            roots.add(int(self.step(json.dumps({"name": "Find", "parameters": {"node": node}}))[1]))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": len(roots)}}))[1]


if __name__ == "__main__":
    env = ConnectedComponentsEnv.from_env_str(
        'ConnectedComponentsEnv@{"n": 5, "edges": [[0, 1], [1, 2], [3, 4]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = ConnectedComponentsEnv.from_env_str('ConnectedComponentsEnv@{"n": 4, "edges": []}')
    print(env.solve())
    print("step count:", env.step_count)
