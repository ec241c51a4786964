import gymnasium
import ast
import json
import heapq


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class TopologicalOrderEnv(gymnasium.Env):
    """Find the lexicographically smallest topological order of a directed graph with nodes 0..n-1,
    where an edge [u, v] means u must come before v (whenever several nodes could come next, the
    smallest number goes first). Observe shows n and the edges; use GetInDegrees, GetSuccessors and
    DecrementInDegree and submit with Done the order as a JSON list of all n node numbers, or [] if
    the graph has a cycle."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_IN_DEGREES = 1
        self.GET_SUCCESSORS = 2
        self.DECREMENT_IN_DEGREE = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetInDegrees": self.GET_IN_DEGREES,
            "GetSuccessors": self.GET_SUCCESSORS,
            "DecrementInDegree": self.DECREMENT_IN_DEGREE,
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
        prefix = "TopologicalOrderEnv@"
        if not env_str.startswith(prefix):
            return None
        return TopologicalOrderEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = options.get("n", 0)
        self.edges = [list(e) for e in options.get("edges", [])]
        self.successors = [[] for _ in range(self.n)]
        self.in_degree = [0] * self.n
        for u, v in self.edges:
            self.successors[u].append(v)
            self.in_degree[v] += 1
        for succ in self.successors:
            succ.sort()
        # working copy of the in-degrees, changed by DecrementInDegree
        self.remaining = list(self.in_degree)
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        indeg = list(self.in_degree)
        heap = [v for v in range(self.n) if indeg[v] == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            u = heapq.heappop(heap)
            order.append(u)
            for v in self.successors[u]:
                indeg[v] -= 1
                if indeg[v] == 0:
                    heapq.heappush(heap, v)
        return order if len(order) == self.n else []

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
            elif action_code == self.GET_IN_DEGREES:
                msg = self.GetInDegrees()
            elif action_code == self.GET_SUCCESSORS:
                if "node" in params:
                    msg = self.GetSuccessors(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for GetSuccessors action."
            elif action_code == self.DECREMENT_IN_DEGREE:
                if "node" in params:
                    msg = self.DecrementInDegree(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for DecrementInDegree action."
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

    def _check_node(self, node):
        node = _require_int(node, "node")
        if node < 0 or node >= self.n:
            raise ValueError(f"node {node} out of range 0..{self.n - 1}")
        return node

    # --- tools ---
    def Observe(self):
        r"""
        Return the directed graph: nodes are 0..n-1, an edge [u, v] means u must come before v.

        Returns:
            str: JSON object with keys "n" and "edges".

        Example Output:
            "{\"n\": 4, \"edges\": [[0, 1], [0, 2], [1, 3], [2, 3]]}"
        """
        return json.dumps({"n": self.n, "edges": self.edges})

    def GetInDegrees(self):
        r"""
        Return the in-degree of every node, and reset the working in-degree counters
        (the ones DecrementInDegree changes) to these values.

        Returns:
            str: JSON list, entry i is the number of edges into node i.

        Example Output:
            "[0, 1, 1, 2]"
        """
        self.remaining = list(self.in_degree)
        return json.dumps(self.in_degree)

    def GetSuccessors(self, node):
        r"""
        Return the nodes that a node has edges to, in increasing order.

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: JSON list of nodes.

        Example Output:
            "[1, 2]"
        """
        node = self._check_node(node)
        return json.dumps(self.successors[node])

    def DecrementInDegree(self, node):
        r"""
        Remove one incoming edge from a node's working in-degree counter
        (used when a predecessor of the node has been placed in the order).

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: the node's remaining in-degree.

        Example Output:
            "0"
        """
        node = self._check_node(node)
        if self.remaining[node] <= 0:
            raise ValueError(f"node {node} has no remaining incoming edges")
        self.remaining[node] -= 1
        return str(self.remaining[node])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (list[int]): the lexicographically smallest topological order, or [] if the graph has a cycle.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: [0, 1, 2, 3], reference answer: [0, 1, 2, 3], result: correct, reward=1"
        """
        if not isinstance(answer, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in answer):
            raise ValueError("parameter 'answer' must be a list of integers")
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
        in_degrees = json.loads(self.step(json.dumps({"name": "GetInDegrees", "parameters": {}}))[1])
        ready = [v for v in range(n) if in_degrees[v] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            u = heapq.heappop(ready)
            order.append(u)
            successors = json.loads(self.step(json.dumps({"name": "GetSuccessors", "parameters": {"node": u}}))[1])
            for v in successors:
                left = int(self.step(json.dumps({"name": "DecrementInDegree", "parameters": {"node": v}}))[1])
                if left == 0:
                    heapq.heappush(ready, v)
        answer = order if len(order) == n else []
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": answer}}))[1]


if __name__ == "__main__":
    env = TopologicalOrderEnv.from_env_str(
        'TopologicalOrderEnv@{"n": 4, "edges": [[0, 1], [0, 2], [1, 3], [2, 3]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = TopologicalOrderEnv.from_env_str('TopologicalOrderEnv@{"n": 3, "edges": [[0, 1], [1, 2], [2, 0]]}')
    print(env.solve())
    print("step count:", env.step_count)
