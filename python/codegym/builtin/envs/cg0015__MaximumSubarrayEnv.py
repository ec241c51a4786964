import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class MaximumSubarrayEnv(gymnasium.Env):
    """Find the largest sum of a non-empty contiguous subarray of an integer array; when every
    element is negative this is the largest single element. Observe shows the array; scan it in
    order with ProcessElement (Kadane's algorithm), read the result with GetBest and submit the sum
    as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.PROCESS_ELEMENT = 1
        self.GET_BEST = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ProcessElement": self.PROCESS_ELEMENT,
            "GetBest": self.GET_BEST,
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
        prefix = "MaximumSubarrayEnv@"
        if not env_str.startswith(prefix):
            return None
        return MaximumSubarrayEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        # Kadane state: elements 0..processed-1 have been scanned;
        # current = best sum of a subarray ending at the last scanned element,
        # best = best sum of any non-empty subarray seen so far
        self.processed = 0
        self.current = None
        self.best = None
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        best = None
        for i in range(len(self.nums)):
            total = 0
            for j in range(i, len(self.nums)):
                total += self.nums[j]
                if best is None or total > best:
                    best = total
        return best

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
            elif action_code == self.PROCESS_ELEMENT:
                if "i" in params:
                    msg = self.ProcessElement(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ProcessElement action."
            elif action_code == self.GET_BEST:
                msg = self.GetBest()
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
        Return the integer array in which the non-empty contiguous subarray with the largest
        sum is wanted.

        Returns:
            str: JSON list of integers.

        Example Output:
            "[-2, 1, -3, 4, -1, 2, 1, -5, 4]"
        """
        return json.dumps(self.nums)

    def ProcessElement(self, i):
        r"""
        Perform one step of Kadane's scan on element nums[i]. Elements must be processed in
        order 0, 1, 2, ...: current = max(nums[i], current + nums[i]) is the best sum of a
        subarray ending at index i, and best = max(best, current) is the best sum seen so far
        (for i = 0 both start as nums[0]).

        Args:
            i (int): index of the next unprocessed element, 0..len(nums)-1.

        Returns:
            str: JSON object with keys "i", "current" and "best" after the step.

        Example Output:
            "{\"i\": 3, \"current\": 4, \"best\": 4}"
        """
        i = _require_int(i, "i")
        n = len(self.nums)
        if i < 0 or i >= n:
            raise ValueError(f"index {i} out of range 0..{n - 1}")
        if i < self.processed:
            raise ValueError(f"element {i} has already been processed; the next index is {self.processed}")
        if i > self.processed:
            raise ValueError(f"element {self.processed} must be processed before element {i}")
        value = self.nums[i]
        if i == 0:
            self.current = value
            self.best = value
        else:
            self.current = max(value, self.current + value)
            self.best = max(self.best, self.current)
        self.processed = i + 1
        return json.dumps({"i": i, "current": self.current, "best": self.best})

    def GetBest(self):
        r"""
        Read the best subarray sum found so far by the scan (at least one element must have
        been processed).

        Returns:
            str: JSON object with keys "processed" (number of elements scanned) and "best".

        Example Output:
            "{\"processed\": 9, \"best\": 6}"
        """
        if self.processed == 0:
            raise ValueError("no element has been processed yet")
        return json.dumps({"processed": self.processed, "best": self.best})

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the largest sum of a non-empty contiguous subarray.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 6, reference answer: 6, result: correct, reward=1"
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
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for i in range(len(nums)):
            self.step(json.dumps({"name": "ProcessElement", "parameters": {"i": i}}))
        state = json.loads(self.step(json.dumps({"name": "GetBest", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": state["best"]}}))[1]


if __name__ == "__main__":
    env = MaximumSubarrayEnv.from_env_str('MaximumSubarrayEnv@{"nums": [-2, 1, -3, 4, -1, 2, 1, -5, 4]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = MaximumSubarrayEnv.from_env_str('MaximumSubarrayEnv@{"nums": [-8, -3, -6, -2, -5, -4]}')
    print(env.solve())
    print("step count:", env.step_count)
