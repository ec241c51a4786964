import gymnasium
import ast
import json
import bisect


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class CountSmallerQueriesEnv(gymnasium.Env):
    """For each query value x, count how many of the given numbers are strictly smaller than x
    (duplicates counted). Observe shows the numbers and the queries; sort with SortNumbers, search
    with BisectLeft, and submit with Done a JSON list of integers holding one count per query, in
    query order ([] if there are no queries)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SORT_NUMBERS = 1
        self.BISECT_LEFT = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SortNumbers": self.SORT_NUMBERS,
            "BisectLeft": self.BISECT_LEFT,
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
        prefix = "CountSmallerQueriesEnv@"
        if not env_str.startswith(prefix):
            return None
        return CountSmallerQueriesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        self.queries = list(options.get("queries", []))
        # sorted copy of nums, available after SortNumbers
        self.sorted_nums = None
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        ordered = sorted(self.nums)
        return [bisect.bisect_left(ordered, q) for q in self.queries]

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
            elif action_code == self.SORT_NUMBERS:
                msg = self.SortNumbers()
            elif action_code == self.BISECT_LEFT:
                if "x" in params:
                    msg = self.BisectLeft(params["x"])
                else:
                    msg = "Error: 'x' parameter is missing for BisectLeft action."
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
        Return the numbers and the queries; for each query x the count of numbers strictly
        smaller than x is wanted.

        Returns:
            str: JSON object with keys "nums" and "queries".

        Example Output:
            "{\"nums\": [5, 1, 4, 2], \"queries\": [3, 6, 0]}"
        """
        return json.dumps({"nums": self.nums, "queries": self.queries})

    def SortNumbers(self):
        r"""
        Sort the numbers in ascending order and keep the sorted list for BisectLeft.

        Returns:
            str: JSON of the sorted list.

        Example Output:
            "[1, 2, 4, 5]"
        """
        self.sorted_nums = sorted(self.nums)
        return json.dumps(self.sorted_nums)

    def BisectLeft(self, x):
        r"""
        Binary-search the sorted numbers (SortNumbers must have been called) for the leftmost
        insertion point of x, which equals the count of numbers strictly smaller than x.

        Args:
            x (int): the query value.

        Returns:
            str: the insertion index as an integer.

        Example Output:
            "2"
        """
        x = _require_int(x, "x")
        if self.sorted_nums is None:
            raise ValueError("the numbers have not been sorted yet; call SortNumbers first")
        return str(bisect.bisect_left(self.sorted_nums, x))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (list[int]): for each query, in order, the count of numbers smaller than it.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: [2, 4, 0], reference answer: [2, 4, 0], result: correct, reward=1"
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
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        self.step(json.dumps({"name": "SortNumbers", "parameters": {}}))
        counts = []
        for q in task["queries"]:
            counts.append(int(self.step(json.dumps({"name": "BisectLeft", "parameters": {"x": q}}))[1]))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": counts}}))[1]


if __name__ == "__main__":
    env = CountSmallerQueriesEnv.from_env_str(
        'CountSmallerQueriesEnv@{"nums": [5, 1, 4, 2], "queries": [3, 6, 0]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
