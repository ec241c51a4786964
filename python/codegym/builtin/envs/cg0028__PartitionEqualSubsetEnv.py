import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _require_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"parameter '{name}' must be a boolean (true or false)")
    return value


class PartitionEqualSubsetEnv(gymnasium.Env):
    """Decide whether a list of positive integers can be split into two parts, every number in
    exactly one part, whose sums are equal (an odd total makes this impossible; an empty list
    splits into two empty parts, so it is true). Observe shows the numbers; use HalfSum, AddNumber
    and IsReachable and submit true or false (a JSON boolean) with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.HALF_SUM = 1
        self.ADD_NUMBER = 2
        self.IS_REACHABLE = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "HalfSum": self.HALF_SUM,
            "AddNumber": self.ADD_NUMBER,
            "IsReachable": self.IS_REACHABLE,
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
        prefix = "PartitionEqualSubsetEnv@"
        if not env_str.startswith(prefix):
            return None
        return PartitionEqualSubsetEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        self.total = sum(self.nums)
        # subset sums are tracked only up to half of the total
        self.limit = self.total // 2
        # reachable[s] = whether some subset of the first `processed` numbers sums to s
        self.reachable = [False] * (self.limit + 1)
        self.reachable[0] = True
        self.processed = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        if self.total % 2 == 1:
            return False
        target = self.total // 2
        sums = 1  # bit s set <=> some subset sums to s
        for x in self.nums:
            sums |= sums << x
        return (sums >> target) & 1 == 1

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
            elif action_code == self.HALF_SUM:
                msg = self.HalfSum()
            elif action_code == self.ADD_NUMBER:
                if "i" in params:
                    msg = self.AddNumber(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for AddNumber action."
            elif action_code == self.IS_REACHABLE:
                if "total" in params:
                    msg = self.IsReachable(params["total"])
                else:
                    msg = "Error: 'total' parameter is missing for IsReachable action."
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
        Return the multiset of positive integers. The question is whether it can be split
        into two parts (every number in exactly one part) whose sums are equal.

        Returns:
            str: JSON object with key "nums".

        Example Output:
            "{\"nums\": [1, 5, 11, 5]}"
        """
        return json.dumps({"nums": self.nums})

    def HalfSum(self):
        r"""
        Return the total of all numbers and the sum each part would need. When the total
        is odd no equal split exists and "target" is null.

        Returns:
            str: JSON object with keys "total" and "target".

        Example Output:
            "{\"total\": 22, \"target\": 11}"
        """
        target = self.total // 2 if self.total % 2 == 0 else None
        return json.dumps({"total": self.total, "target": target})

    def AddNumber(self, i):
        r"""
        Add nums[i] to the subset-sum DP: every sum s (up to half of the total) that was
        reachable before stays reachable, and s + nums[i] becomes reachable too. Each
        number is used at most once; numbers must be added in order 0, 1, 2, ...

        Args:
            i (int): index of the number; must equal the number of numbers added so far.

        Returns:
            str: JSON object with the count of numbers added and of reachable sums
                (0..half of the total).

        Example Output:
            "{\"added\": 2, \"reachable_sums\": 4}"
        """
        i = _require_int(i, "i")
        if i < 0 or i >= len(self.nums):
            raise ValueError(f"index {i} out of range 0..{len(self.nums) - 1}")
        if i != self.processed:
            raise ValueError(f"numbers must be added in order; next index is {self.processed}")
        x = self.nums[i]
        before = self.reachable
        after = list(before)
        for s in range(self.limit + 1):
            if before[s] and 0 <= s + x <= self.limit:
                after[s + x] = True
        self.reachable = after
        self.processed += 1
        return json.dumps({"added": self.processed, "reachable_sums": sum(1 for r in after if r)})

    def IsReachable(self, total):
        r"""
        Tell whether some subset of the numbers added so far sums exactly to a value.

        Args:
            total (int): the subset sum to ask about, 0..half of the total (rounded down).

        Returns:
            str: "true" or "false".

        Example Output:
            "true"
        """
        total = _require_int(total, "total")
        if total < 0 or total > self.limit:
            raise ValueError(f"sum {total} out of range 0..{self.limit}")
        return json.dumps(self.reachable[total])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (bool): true if the numbers can be split into two parts of equal sum.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: true, reference answer: true, result: correct, reward=1"
        """
        answer = _require_bool(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {json.dumps(answer)}, reference answer: {json.dumps(ref_answer)}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        half = json.loads(self.step(json.dumps({"name": "HalfSum", "parameters": {}}))[1])
        if half["target"] is None:
            return self.step(json.dumps({"name": "Done", "parameters": {"answer": False}}))[1]
        for i in range(len(task["nums"])):
            self.step(json.dumps({"name": "AddNumber", "parameters": {"i": i}}))
        result = json.loads(self.step(json.dumps(
            {"name": "IsReachable", "parameters": {"total": half["target"]}}
        ))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = PartitionEqualSubsetEnv.from_env_str('PartitionEqualSubsetEnv@{"nums": [1, 5, 11, 5]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = PartitionEqualSubsetEnv.from_env_str('PartitionEqualSubsetEnv@{"nums": [1, 2, 3, 5]}')
    print(env.solve())
    print("step count:", env.step_count)
