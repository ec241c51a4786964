import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class KthLargestElementEnv(gymnasium.Env):
    """Find the k-th largest element of a list of integers, counting duplicates: in [3, 3, 1] the
    1st and 2nd largest are both 3, and k = 1 is the maximum. Observe shows the list and k; use the
    environment's min-heap (PushToHeap, PopMin, PeekMin) and submit the element's value (not its
    index) as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.PUSH_TO_HEAP = 1
        self.POP_MIN = 2
        self.PEEK_MIN = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "PushToHeap": self.PUSH_TO_HEAP,
            "PopMin": self.POP_MIN,
            "PeekMin": self.PEEK_MIN,
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
        prefix = "KthLargestElementEnv@"
        if not env_str.startswith(prefix):
            return None
        return KthLargestElementEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        self.k = options.get("k", 1)
        # a min-heap owned by the environment, changed by PushToHeap / PopMin
        self.heap = []
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        import heapq

        return heapq.nlargest(self.k, self.nums)[-1]

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
            elif action_code == self.PUSH_TO_HEAP:
                if "value" in params:
                    msg = self.PushToHeap(params["value"])
                else:
                    msg = "Error: 'value' parameter is missing for PushToHeap action."
            elif action_code == self.POP_MIN:
                msg = self.PopMin()
            elif action_code == self.PEEK_MIN:
                msg = self.PeekMin()
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

    # --- tools ---
    def Observe(self):
        r"""
        Return the list of numbers and k; the k-th largest element (counting duplicates) is wanted.

        Returns:
            str: JSON object with keys "nums" and "k".

        Example Output:
            "{\"nums\": [3, 2, 1, 5, 6, 4], \"k\": 2}"
        """
        return json.dumps({"nums": self.nums, "k": self.k})

    def PushToHeap(self, value):
        r"""
        Push a number onto the environment's min-heap.

        Args:
            value (int): the number to push.

        Returns:
            str: the heap size after the push.

        Example Output:
            "3"
        """
        import heapq

        value = _require_int(value, "value")
        heapq.heappush(self.heap, value)
        return str(len(self.heap))

    def PopMin(self):
        r"""
        Remove and return the smallest number in the min-heap.

        Returns:
            str: the removed number.

        Example Output:
            "1"
        """
        import heapq

        if not self.heap:
            raise ValueError("the heap is empty")
        return str(heapq.heappop(self.heap))

    def PeekMin(self):
        r"""
        Return the smallest number in the min-heap without removing it.

        Returns:
            str: the smallest number.

        Example Output:
            "5"
        """
        if not self.heap:
            raise ValueError("the heap is empty")
        return str(self.heap[0])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the k-th largest element of the list.

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
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        k = task["k"]
        for x in task["nums"]:
            size = int(self.step(json.dumps({"name": "PushToHeap", "parameters": {"value": x}}))[1])
            if size > k:
                self.step(json.dumps({"name": "PopMin", "parameters": {}}))
        kth = int(self.step(json.dumps({"name": "PeekMin", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": kth}}))[1]


if __name__ == "__main__":
    env = KthLargestElementEnv.from_env_str('KthLargestElementEnv@{"nums": [3, 2, 1, 5, 6, 4], "k": 2}')
    print(env.solve())
    print("step count:", env.step_count)
    env = KthLargestElementEnv.from_env_str('KthLargestElementEnv@{"nums": [3, 2, 3, 1, 2, 4, 5, 5, 6], "k": 4}')
    print(env.solve())
    print("step count:", env.step_count)
